//! `fcap read --image` and `fcap check --image` on images made by the real tools:
//! umoci (layers, whiteouts, opaque directories, v3 values, config), skopeo (both
//! `docker save` shapes, oci-archive, zstd), GNU tar and bsdtar (single layer tars,
//! LIBARCHIVE records, hard links).
//!
//! The oracle for every image is the same image unpacked with xattrs on the real
//! kernel (`umoci unpack`, or `tar --xattrs --xattrs-include='*' -x` layer by layer
//! with the whiteouts applied) and read by libcap's `getcap -r`. Each test also spells
//! out the lines it expects, so an oracle that went wrong in the same way as fcap
//! cannot hide it.

use crate::util::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `getcap -r` on a tree, as image-absolute lines sorted like fcap sorts them (by
/// path bytes). `rootid`: `getcap -n`, for v3 values.
fn getcap_tree(root: &Path, rootid: bool) -> String {
    getcap_tree_with(root, if rootid { &["-n"] } else { &[] })
}

/// `getcap FLAGS -r ROOT`, image-absolute and sorted; with `-v` the root itself is
/// `/`. The trees the tests build have no spaces in their names.
fn getcap_tree_with(root: &Path, flags: &[&str]) -> String {
    let mut c = Command::new("getcap");
    c.args(flags).arg("-r").arg(root);
    let r = run(c);
    r.ok();
    let prefix = root.to_str().unwrap();
    let mut lines: Vec<(String, String)> = r
        .stdout()
        .lines()
        .map(|l| {
            let rest = l
                .strip_prefix(prefix)
                .unwrap_or_else(|| panic!("getcap line outside {prefix}: {l:?}"));
            let (path, caps) = rest.split_once(' ').unwrap_or((rest, ""));
            let path = if path.is_empty() { "/" } else { path };
            (path.to_string(), caps.to_string())
        })
        .collect();
    lines.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    lines
        .iter()
        .map(|(p, c)| match c.as_str() {
            "" => format!("{p}\n"),
            c => format!("{p} {c}\n"),
        })
        .collect()
}

/// The oracle for an OCI layout umoci can read: `umoci unpack` it into a fresh
/// bundle (as root, so the xattrs are written) and getcap the rootfs.
fn umoci_oracle(lab: &Lab, image: &str, rootid: bool) -> String {
    umoci_oracle_with(lab, image, if rootid { &["-n"] } else { &[] })
}

/// [`umoci_oracle`] with these getcap flags.
fn umoci_oracle_with(lab: &Lab, image: &str, flags: &[&str]) -> String {
    let bundle = tempfile::Builder::new()
        .prefix("oracle")
        .tempdir_in(lab.d.path())
        .unwrap();
    let b = bundle.path().join("b");
    let mut c = Command::new("umoci");
    c.args(["unpack", "--image", image])
        .arg(&b)
        .current_dir(lab.d.path());
    run(c).ok();
    getcap_tree_with(&b.join("rootfs"), flags)
}

/// The oracle for layer tars: extract them in order with GNU tar into a fresh
/// directory, applying each layer's whiteouts to the lower layers first (a whiteout
/// never hides its own layer's entries), and getcap the result.
fn tar_oracle(lab: &Lab, layers: &[PathBuf], rootid: bool) -> String {
    tar_oracle_with(lab, layers, if rootid { &["-n"] } else { &[] })
}

/// [`tar_oracle`] with these getcap flags.
fn tar_oracle_with(lab: &Lab, layers: &[PathBuf], flags: &[&str]) -> String {
    let root = tempfile::Builder::new()
        .prefix("oracle")
        .tempdir_in(lab.d.path())
        .unwrap();
    let root = root.keep();
    for layer in layers {
        let mut c = Command::new("tar");
        c.arg("-tf").arg(layer);
        let names = run(c);
        names.ok();
        for name in names.stdout().lines() {
            let name = name.trim_start_matches("./");
            let (dir, base) = name.rsplit_once('/').unwrap_or(("", name));
            if base == ".wh..wh..opq" {
                for e in std::fs::read_dir(root.join(dir)).into_iter().flatten() {
                    let e = e.unwrap().path();
                    if e.is_dir() && !e.is_symlink() {
                        std::fs::remove_dir_all(&e).unwrap();
                    } else {
                        std::fs::remove_file(&e).unwrap();
                    }
                }
            } else if let Some(hidden) = base.strip_prefix(".wh.") {
                let p = root.join(dir).join(hidden);
                if p.is_dir() && !p.is_symlink() {
                    std::fs::remove_dir_all(&p).unwrap();
                } else if p.symlink_metadata().is_ok() {
                    std::fs::remove_file(&p).unwrap();
                }
            }
        }
        let mut c = Command::new("tar");
        c.args(["--xattrs", "--xattrs-include=*", "--exclude=.wh.*", "-xpf"])
            .arg(layer)
            .arg("-C")
            .arg(&root);
        run(c).ok();
    }
    let out = getcap_tree_with(&root, flags);
    std::fs::remove_dir_all(&root).unwrap();
    out
}

/// `fcap read --image IMAGE [args...]`.
fn read_image(image: &str, args: &[&str]) -> Run {
    let mut v = vec!["read", "--image", image];
    v.extend_from_slice(args);
    fcap_run(v)
}

/// fcap reads `image` as exactly `want`, with nothing on stderr, and the oracle
/// agrees.
#[track_caller]
fn reads_as(image: &str, want: &str, oracle: &str) {
    assert_eq!(
        oracle, want,
        "the oracle (getcap on the unpacked image) for {image}"
    );
    read_image(image, &[]).ok().stdout_is(want).stderr_is("");
}

/// The JSON of one blob of an OCI layout.
fn blob_json(layout: &Path, digest: &str) -> Value {
    let hex = digest.strip_prefix("sha256:").unwrap();
    serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()).unwrap()
}

/// The manifest digest an OCI layout's index.json tags `tag`.
fn manifest_of(layout: &Path, tag: &str) -> String {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no tag {tag} in {}", layout.display()))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The config digest of the image `tag` in an OCI layout.
fn manifest_config(layout: &Path, tag: &str) -> String {
    blob_json(layout, &manifest_of(layout, tag))["config"]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The layer digests of the image `tag` in an OCI layout, in order.
fn layer_digests(layout: &Path, tag: &str) -> Vec<String> {
    let m = blob_json(layout, &manifest_of(layout, tag));
    m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

/// The layer blob files of the image `tag` in an OCI layout, in order.
fn layer_blobs(layout: &Path, tag: &str) -> Vec<PathBuf> {
    layer_digests(layout, tag)
        .iter()
        .map(|d| layout.join("blobs/sha256").join(&d["sha256:".len()..]))
        .collect()
}

/// Store `data` as a blob of an OCI layout; returns its descriptor's digest and size.
fn put_blob(layout: &Path, data: &[u8]) -> (String, usize) {
    let hex: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(layout.join("blobs/sha256").join(&hex), data).unwrap();
    (format!("sha256:{hex}"), data.len())
}

/// This machine's architecture in OCI's words (umoci writes it into its configs,
/// and fcap picks it by default).
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => panic!("these tests know amd64 and arm64 hosts, not {a}"),
    }
}

const UMOCI_TOOLS: &[&str] = &["umoci", "setcap", "getcap", "tar", "gzip"];

/// The image most tests share, built by umoci in `lab/oci`, one tag per step:
/// - `one`: a layer (repack) with capped files in /usr/bin, /usr/sbin, /etc, /opt;
/// - `two`: + a layer (repack) where `other` loses its caps (`setcap -r`),
///   `replaced` is a new file without caps, and `late` gains caps;
/// - `user`: + `umoci config --config.user 1000` (a history entry, no layer);
/// - `wh`: + `umoci insert --whiteout /usr/bin/gone` and `--whiteout /opt/tools`
///   (two layers; umoci 0.4.7 writes them without the end-of-archive blocks);
/// - `img`: + `umoci insert --opaque src /etc/dir` (hides `/etc/dir/hidden`, brings
///   `/etc/dir/new` with its caps).
fn umoci_image(lab: &Lab) {
    lab.sh(r#"
umoci init --layout oci
umoci new --image oci:base
umoci unpack --image oci:base bundle
R=bundle/rootfs
mkdir -p $R/usr/bin $R/usr/sbin $R/etc/dir $R/opt/tools
put() { cp /bin/true "$R/$1"; if [ -n "$2" ]; then setcap "$2" "$R/$1"; fi; }
put usr/bin/ping cap_net_raw=ep
put usr/bin/other cap_chown,cap_net_admin+eip
put usr/bin/replaced cap_sys_admin=ep
put usr/bin/gone cap_kill=ep
put usr/bin/plain ''
put usr/sbin/keep cap_net_bind_service=ep
put etc/dir/hidden cap_setuid=ep
put etc/keep cap_setgid=p
put opt/tools/trace cap_sys_ptrace=ep
umoci repack --refresh-bundle --image oci:one --history.created_by='RUN setcap (base)' bundle
setcap -r $R/usr/bin/other
rm $R/usr/bin/replaced
cp /bin/false $R/usr/bin/replaced
put usr/bin/late cap_dac_override=p
umoci repack --refresh-bundle --image oci:two --history.created_by='RUN setcap -r other' bundle
umoci config --image oci:two --tag user --config.user 1000 --history.created_by='USER 1000'
umoci insert --image oci:user --tag wh --history.created_by='RUN rm gone' --whiteout /usr/bin/gone
umoci insert --image oci:wh --history.created_by='RUN rm -r /opt/tools' --whiteout /opt/tools
mkdir -p src/sub
cp /bin/true src/new
setcap cap_fowner=ie src/new
echo data > src/sub/file
umoci insert --image oci:wh --tag img --history.created_by='COPY src /etc/dir' --opaque src /etc/dir
"#);
}

const ONE: &str = "\
/etc/dir/hidden cap_setuid=ep
/etc/keep cap_setgid=p
/opt/tools/trace cap_sys_ptrace=ep
/usr/bin/gone cap_kill=ep
/usr/bin/other cap_chown,cap_net_admin=eip
/usr/bin/ping cap_net_raw=ep
/usr/bin/replaced cap_sys_admin=ep
/usr/sbin/keep cap_net_bind_service=ep
";

const TWO: &str = "\
/etc/dir/hidden cap_setuid=ep
/etc/keep cap_setgid=p
/opt/tools/trace cap_sys_ptrace=ep
/usr/bin/gone cap_kill=ep
/usr/bin/late cap_dac_override=p
/usr/bin/ping cap_net_raw=ep
/usr/sbin/keep cap_net_bind_service=ep
";

const WH: &str = "\
/etc/dir/hidden cap_setuid=ep
/etc/keep cap_setgid=p
/usr/bin/late cap_dac_override=p
/usr/bin/ping cap_net_raw=ep
/usr/sbin/keep cap_net_bind_service=ep
";

/// The final image, `img`.
const IMG: &str = "\
/etc/dir/new cap_fowner=ei
/etc/keep cap_setgid=p
/usr/bin/late cap_dac_override=p
/usr/bin/ping cap_net_raw=ep
/usr/sbin/keep cap_net_bind_service=ep
";

#[test]
fn umoci_repack_layers_add_remove_and_replace_capabilities() {
    let lab = Lab::new(UMOCI_TOOLS);
    umoci_image(&lab);
    let oci = lab.s("oci");
    assert_eq!(layer_digests(&lab.p("oci"), "one").len(), 1);
    assert_eq!(layer_digests(&lab.p("oci"), "two").len(), 2);
    reads_as(
        &format!("{oci}:one"),
        ONE,
        &umoci_oracle(&lab, "oci:one", false),
    );
    // Layer 2 removed other's caps, replaced `replaced` by a file without any, and
    // added late's: the lower layer's values are gone.
    reads_as(
        &format!("{oci}:two"),
        TWO,
        &umoci_oracle(&lab, "oci:two", false),
    );
    // PATH arguments are image-absolute and select everything at or under them, in
    // the order given (as `read -r` and getcap do on a host).
    read_image(&format!("{oci}:two"), &["/usr/sbin", "/etc/keep"])
        .ok()
        .stdout_is("/usr/sbin/keep cap_net_bind_service=ep\n/etc/keep cap_setgid=p\n");
}

#[test]
fn umoci_insert_whiteout_hides_a_lower_file_and_directory() {
    let lab = Lab::new(UMOCI_TOOLS);
    umoci_image(&lab);
    let oci = lab.s("oci");
    let layers = layer_digests(&lab.p("oci"), "wh");
    assert_eq!(layers.len(), 4, "one, two, and two whiteout layers");
    // The whiteout layers are real umoci insert output: one .wh. entry each, and
    // (umoci #436) no end-of-archive blocks: the archive is that one header.
    for (i, name) in [(2, "usr/bin/.wh.gone"), (3, "opt/.wh.tools")] {
        let blob = &layer_blobs(&lab.p("oci"), "wh")[i];
        let listing = lab.sh(&format!(
            "zcat {0} | tar -t; zcat {0} | wc -c",
            blob.display()
        ));
        assert_eq!(listing.stdout(), format!("{name}\n512\n"));
    }
    reads_as(
        &format!("{oci}:wh"),
        WH,
        &umoci_oracle(&lab, "oci:wh", false),
    );
}

#[test]
fn umoci_insert_opaque_hides_what_lower_layers_had_in_the_directory() {
    let lab = Lab::new(UMOCI_TOOLS);
    umoci_image(&lab);
    let oci = lab.s("oci");
    // umoci #436: the inserted layer ends without its last file's padding and the
    // end-of-archive blocks. GNU tar gives up on it; Go's archive/tar (moby,
    // containerd, umoci itself) reads it to the last entry, and so must fcap.
    let blob = layer_blobs(&lab.p("oci"), "img")[4].clone();
    let mut c = Command::new("bash");
    c.arg("-c").arg("zcat \"$1\" | tar -t").arg("-").arg(&blob);
    let gnu = run(c);
    assert!(
        gnu.code() != 0 && gnu.stderr().contains("Unexpected EOF in archive"),
        "umoci insert no longer writes a truncated layer (umoci #436), so this test no longer covers it:\n{}",
        gnu.stderr()
    );
    reads_as(
        &format!("{oci}:img"),
        IMG,
        &umoci_oracle(&lab, "oci:img", false),
    );
    read_image(&format!("{oci}:img"), &["/etc/dir"])
        .ok()
        .stdout_is("/etc/dir/new cap_fowner=ei\n");
}

#[test]
fn umoci_config_user_adds_no_layer_and_changes_no_capability() {
    let lab = Lab::new(UMOCI_TOOLS);
    umoci_image(&lab);
    let layout = lab.p("oci");
    assert_eq!(
        layer_digests(&layout, "user"),
        layer_digests(&layout, "two")
    );
    let m = blob_json(&layout, &manifest_of(&layout, "user"));
    let cfg = blob_json(&layout, m["config"]["digest"].as_str().unwrap());
    assert_eq!(cfg["config"]["User"], "1000");
    reads_as(
        &format!("{}:user", lab.s("oci")),
        TWO,
        &umoci_oracle(&lab, "oci:user", false),
    );
}

#[test]
fn umoci_v3_value_keeps_its_rootid_and_warns() {
    let lab = Lab::new(UMOCI_TOOLS);
    lab.sh(r#"
umoci init --layout oci
umoci new --image oci:base
umoci unpack --image oci:base bundle
mkdir -p bundle/rootfs/usr/bin
cp /bin/true bundle/rootfs/usr/bin/ns
setcap -n 1000 cap_net_raw=ep bundle/rootfs/usr/bin/ns
cp /bin/true bundle/rootfs/usr/bin/v2
setcap cap_kill=p bundle/rootfs/usr/bin/v2
umoci repack --image oci:v3 bundle
"#);
    let img = format!("{}:v3", lab.s("oci"));
    let want = "/usr/bin/ns cap_net_raw=ep [rootid=1000]\n/usr/bin/v2 cap_kill=p\n";
    assert_eq!(
        umoci_oracle(&lab, "oci:v3", true),
        want,
        "getcap -n of umoci unpack"
    );
    let warning = "fcap: warning: /usr/bin/ns: a v3 value bound to rootid 1000:";
    let r = read_image(&img, &["--rootid"]);
    r.ok().stdout_is(want).stderr_has(warning);
    assert_eq!(r.stderr().lines().count(), 1, "{}", r.stderr());
    // Without --rootid the line is getcap's without -n; the warning stays.
    assert_eq!(
        umoci_oracle(&lab, "oci:v3", false),
        "/usr/bin/ns cap_net_raw=ep\n/usr/bin/v2 cap_kill=p\n"
    );
    read_image(&img, &[])
        .ok()
        .stdout_is("/usr/bin/ns cap_net_raw=ep\n/usr/bin/v2 cap_kill=p\n")
        .stderr_has(warning);
    let j = read_image(&img, &["--json"]);
    let v = j.ok().json_lines();
    assert_eq!(v[0]["path"], "/usr/bin/ns");
    assert_eq!(v[0]["version"], 3);
    assert_eq!(v[0]["rootid"], 1000);
    assert_eq!(v[1]["version"], 2);
    assert_eq!(v[1]["rootid"], Value::Null);
    // check: a manifest line with the rootid matches, one without differs, in the
    // image exactly as on the unpacked tree.
    lab.sh("umoci unpack --image oci:v3 host");
    let rootfs = lab.s("host/rootfs");
    for (text, code, diff) in [
        (want, 0, ""),
        (
            "/usr/bin/ns cap_net_raw=ep\n/usr/bin/v2 cap_kill=p\n",
            1,
            "different /usr/bin/ns cap_net_raw=ep [rootid=1000] (manifest: cap_net_raw=ep)\n",
        ),
    ] {
        let m = manifest(&lab, "v3.caps", text);
        check(&[&m, "--image", &img]).status(code).stdout_is(diff);
        let host: String = text.lines().map(|l| format!("{rootfs}{l}\n")).collect();
        let h = manifest(&lab, "v3-host.caps", &host);
        let r = check(&[&h]);
        r.status(code);
        assert_eq!(r.stdout().replace(&rootfs, ""), diff);
    }
}

/// The JSON names, per file, the layer that set its capabilities and that layer's
/// history line; `umoci config` made a history entry with no layer in between, so
/// the n-th layer is the n-th history entry that is not `empty_layer`.
#[test]
fn json_names_the_layer_and_its_created_by() {
    let lab = Lab::new(UMOCI_TOOLS);
    umoci_image(&lab);
    let layout = lab.p("oci");
    let layers = layer_digests(&layout, "img");
    assert_eq!(layers.len(), 5);
    let cfg_digest = blob_json(&layout, &manifest_of(&layout, "img"))["config"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let history = blob_json(&layout, &cfg_digest)["history"].clone();
    let by: Vec<(&str, bool)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["created_by"].as_str().unwrap_or(""),
                h["empty_layer"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert!(
        by.contains(&("USER 1000", true)),
        "umoci config wrote an empty-layer history entry: {by:?}"
    );
    let r = read_image(&format!("{}:img", lab.s("oci")), &["--json"]);
    let got: Vec<(String, Value)> = r
        .ok()
        .json_lines()
        .into_iter()
        .map(|v| (v["path"].as_str().unwrap().to_string(), v["layer"].clone()))
        .collect();
    let layer = |i: usize, created_by: &str| json!({"index": i, "digest": layers[i], "created_by": created_by});
    assert_eq!(
        got,
        vec![
            ("/etc/dir/new".to_string(), layer(4, "COPY src /etc/dir")),
            ("/etc/keep".to_string(), layer(0, "RUN setcap (base)")),
            ("/usr/bin/late".to_string(), layer(1, "RUN setcap -r other")),
            ("/usr/bin/ping".to_string(), layer(0, "RUN setcap (base)")),
            ("/usr/sbin/keep".to_string(), layer(0, "RUN setcap (base)")),
        ]
    );
}

/// `skopeo copy` to a legacy `docker save` tarball: `<v1id>/layer.tar` entries are
/// symlinks inside the archive. The oracle reads the very archive back with skopeo
/// into an OCI layout and unpacks that with umoci.
#[test]
fn skopeo_docker_archive_legacy_with_symlinked_layers() {
    let lab = Lab::new(&["umoci", "skopeo", "setcap", "getcap", "tar"]);
    umoci_image(&lab);
    lab.sh("skopeo copy -q oci:oci:img docker-archive:x.tar:capped:latest");
    let listing = lab.sh("tar -tvf x.tar").stdout();
    assert_eq!(
        listing
            .lines()
            .filter(|l| l.contains("/layer.tar -> ../"))
            .count(),
        5,
        "skopeo writes layer.tar as symlinks:\n{listing}"
    );
    let manifest = lab.sh("tar -xOf x.tar manifest.json").stdout();
    assert!(
        manifest.contains("\"RepoTags\":[\"docker.io/library/capped:latest\"]"),
        "{manifest}"
    );
    lab.sh("skopeo copy -q docker-archive:x.tar oci:back:t");
    let oracle = umoci_oracle(&lab, "back:t", false);
    let x = lab.s("x.tar");
    reads_as(&x, IMG, &oracle);
    // The tag, as skopeo wrote it, by its tag part, and as `docker save` users name it.
    for tag in [
        "docker.io/library/capped:latest",
        "latest",
        "capped:latest",
        "capped",
    ] {
        reads_as(&format!("{x}:{tag}"), IMG, &oracle);
    }
    // --json: the same layers and history lines as the OCI original; a legacy
    // archive's layers are named by their uncompressed digest (the config's diff_ids).
    let layout = lab.p("oci");
    let cfg = blob_json(&layout, manifest_config(&layout, "img").as_str());
    let oci_json = read_image(&format!("{}:img", lab.s("oci")), &["--json"])
        .ok()
        .json_lines();
    let x_json = read_image(&x, &["--json"]).ok().json_lines();
    assert_eq!(x_json.len(), oci_json.len());
    for (a, b) in x_json.iter().zip(&oci_json) {
        assert_eq!((&a["path"], &a["caps"]), (&b["path"], &b["caps"]));
        let i = b["layer"]["index"].as_u64().unwrap() as usize;
        assert_eq!(a["layer"]["index"], b["layer"]["index"]);
        assert_eq!(a["layer"]["created_by"], b["layer"]["created_by"]);
        assert_eq!(a["layer"]["digest"], cfg["rootfs"]["diff_ids"][i]);
    }
    let r = read_image(&format!("{x}:other"), &[]);
    r.status(2).stdout_is("");
    assert_eq!(
        r.stderr(),
        format!(
            "fcap: '{x}:other': no image tagged \"other\"; it has: docker.io/library/capped:latest (linux/{})\n",
            host_arch()
        )
    );
}

/// `skopeo copy` to `oci-archive:` (an OCI layout packed as a tar). The oracle
/// unpacks the archive's own layout with umoci.
#[test]
fn skopeo_oci_archive() {
    let lab = Lab::new(&["umoci", "skopeo", "setcap", "getcap", "tar"]);
    umoci_image(&lab);
    lab.sh("skopeo copy -q oci:oci:img oci-archive:y.tar:capped && mkdir y && tar -xf y.tar -C y");
    assert_eq!(layer_digests(&lab.p("y"), "capped").len(), 5);
    let oracle = umoci_oracle(&lab, "y:capped", false);
    reads_as(&lab.s("y.tar"), IMG, &oracle);
    reads_as(&format!("{}:capped", lab.s("y.tar")), IMG, &oracle);
}

/// Docker's media types in an OCI layout (`skopeo copy --format v2s2`, as the
/// containerd image store keeps images pulled from a Docker registry): the layer
/// blobs are the very bytes of the OCI original, so its umoci unpack is the oracle.
#[test]
fn skopeo_docker_media_types_in_an_oci_layout() {
    let lab = Lab::new(&["umoci", "skopeo", "setcap", "getcap", "tar"]);
    umoci_image(&lab);
    lab.sh("skopeo copy -q --format v2s2 oci:oci:img oci:v2s2:img");
    let layout = lab.p("v2s2");
    let m = blob_json(&layout, &manifest_of(&layout, "img"));
    assert_eq!(
        m["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    for l in m["layers"].as_array().unwrap() {
        assert_eq!(
            l["mediaType"],
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        );
    }
    assert_eq!(
        layer_digests(&layout, "img"),
        layer_digests(&lab.p("oci"), "img")
    );
    reads_as(
        &format!("{}:img", lab.s("v2s2")),
        IMG,
        &umoci_oracle(&lab, "oci:img", false),
    );
}

/// `skopeo copy --dest-compress-format zstd` into an OCI layout: every layer is
/// recompressed as zstd. umoci 0.4.7 cannot unpack zstd layers, so the oracle
/// extracts them with GNU tar layer by layer. The source image has no `umoci
/// insert` layers (GNU tar rejects their missing end-of-archive blocks); its second
/// layer deletes a file, which `umoci repack` writes as a whiteout.
#[test]
fn skopeo_zstd_layers() {
    let lab = Lab::new(&["umoci", "skopeo", "setcap", "getcap", "tar", "zstd"]);
    lab.sh(r#"
umoci init --layout oci
umoci new --image oci:base
umoci unpack --image oci:base bundle
R=bundle/rootfs
mkdir -p $R/usr/bin $R/opt/d
cp /bin/true $R/usr/bin/ping && setcap cap_net_raw=ep $R/usr/bin/ping
cp /bin/true $R/usr/bin/gone && setcap cap_kill=ep $R/usr/bin/gone
cp /bin/true $R/opt/d/x && setcap cap_chown=p $R/opt/d/x
umoci repack --refresh-bundle --image oci:z1 bundle
rm $R/usr/bin/gone
rm -r $R/opt/d
cp /bin/true $R/usr/bin/new && setcap cap_sys_nice=ep $R/usr/bin/new
umoci repack --refresh-bundle --image oci:z2 bundle
skopeo copy -q --dest-compress-format zstd oci:oci:z2 oci:oci-zstd:z2
"#);
    let layout = lab.p("oci-zstd");
    let m = blob_json(&layout, &manifest_of(&layout, "z2"));
    for l in m["layers"].as_array().unwrap() {
        assert_eq!(
            l["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
    }
    let blobs = layer_blobs(&layout, "z2");
    for b in &blobs {
        let head = std::fs::read(b).unwrap();
        assert_eq!(
            head[..4],
            [0x28, 0xb5, 0x2f, 0xfd],
            "{} is zstd",
            b.display()
        );
    }
    let listing = lab
        .sh(&format!("zstd -dc {} | tar -t", blobs[1].display()))
        .stdout();
    assert!(listing.contains("usr/bin/.wh.gone\n"), "{listing}");
    let want = "/usr/bin/new cap_sys_nice=ep\n/usr/bin/ping cap_net_raw=ep\n";
    reads_as(
        &format!("{}:z2", lab.s("oci-zstd")),
        want,
        &tar_oracle(&lab, &blobs, false),
    );
    // And the gzip original agrees with umoci's own unpacking.
    reads_as(
        &format!("{}:z2", lab.s("oci")),
        want,
        &umoci_oracle(&lab, "oci:z2", false),
    );
}

/// Turn the OCI layout `dir` (tag `latest`) into what `docker save` writes since
/// Docker 25: the layout plus the legacy manifest.json (paths rewritten to the
/// blobs) and `repositories`, index annotations naming the image, packed by GNU tar
/// as `tar`. Returns the layer media types.
fn docker25(lab: &Lab, dir: &str, tar: &str) -> Vec<String> {
    let d = lab.p(dir);
    let m = blob_json(&d, &manifest_of(&d, "latest"));
    let blob = |v: &Value| format!("blobs/sha256/{}", &v["digest"].as_str().unwrap()[7..]);
    let layers: Vec<String> = m["layers"].as_array().unwrap().iter().map(blob).collect();
    let media = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap().to_string())
        .collect();
    let manifest_json =
        json!([{"Config": blob(&m["config"]), "RepoTags": ["capped:latest"], "Layers": layers}]);
    std::fs::write(d.join("manifest.json"), manifest_json.to_string()).unwrap();
    let top = layers.last().unwrap()["blobs/sha256/".len()..].to_string();
    std::fs::write(
        d.join("repositories"),
        json!({"capped": {"latest": top}}).to_string(),
    )
    .unwrap();
    let mut index: Value =
        serde_json::from_slice(&std::fs::read(d.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["annotations"] = json!({
        "io.containerd.image.name": "docker.io/library/capped:latest",
        "org.opencontainers.image.ref.name": "latest"
    });
    std::fs::write(d.join("index.json"), index.to_string()).unwrap();
    lab.sh(&format!(
        "tar -C {dir} -cf {tar} blobs index.json manifest.json oci-layout repositories"
    ));
    media
}

/// A Docker 25+ `docker save` tarball, in both flavours: uncompressed layers (the
/// classic store) and gzip layers kept as pulled (the containerd store). No docker
/// here: skopeo writes the OCI layout (for the first, through a `dir:` copy with
/// `--dest-decompress` and back with `--dest-oci-accept-uncompressed-layers`), the
/// test adds the manifest.json, `repositories` and index annotations Docker writes,
/// and GNU tar packs it. The oracle is umoci unpacking the same layout.
#[test]
fn docker25_save_shape() {
    let lab = Lab::new(&["umoci", "skopeo", "setcap", "getcap", "tar"]);
    umoci_image(&lab);
    lab.sh("skopeo copy -q --dest-decompress oci:oci:img dir:plain && \
         skopeo copy -q --dest-oci-accept-uncompressed-layers dir:plain oci:classic:latest && \
         skopeo copy -q oci:oci:img oci:containerd:latest");
    let tar = "application/vnd.oci.image.layer.v1.tar".to_string();
    let gzip = "application/vnd.oci.image.layer.v1.tar+gzip".to_string();
    for (dir, media) in [("classic", tar), ("containerd", gzip)] {
        let file = format!("{dir}.tar");
        assert_eq!(docker25(&lab, dir, &file), vec![media; 5], "{dir}");
        let oracle = umoci_oracle(&lab, &format!("{dir}:latest"), false);
        let t = lab.s(&file);
        reads_as(&t, IMG, &oracle);
        for tag in ["latest", "capped:latest", "docker.io/library/capped:latest"] {
            reads_as(&format!("{t}:{tag}"), IMG, &oracle);
        }
    }
}

/// Two umoci images put behind one nested index, as the containerd image store
/// writes it (index.json -> an index blob -> per-platform manifests); returns the
/// oracle of each platform's image.
fn multi_platform(lab: &Lab) -> (String, String) {
    lab.sh(r#"
umoci init --layout oci
umoci new --image oci:base
umoci unpack --image oci:base bundle
mkdir -p bundle/rootfs/usr/bin
cp /bin/true bundle/rootfs/usr/bin/ping && setcap cap_net_raw=ep bundle/rootfs/usr/bin/ping
umoci repack --image oci:amd bundle
setcap cap_net_admin=p bundle/rootfs/usr/bin/ping
cp /bin/true bundle/rootfs/usr/bin/armonly && setcap cap_kill=ep bundle/rootfs/usr/bin/armonly
umoci repack --image oci:arm bundle
"#);
    let layout = lab.p("oci");
    let oracles = (
        umoci_oracle(lab, "oci:amd", false),
        umoci_oracle(lab, "oci:arm", false),
    );
    let desc = |tag: &str, arch: &str, variant: Option<&str>| {
        let digest = manifest_of(&layout, tag);
        let size = std::fs::metadata(layout.join("blobs/sha256").join(&digest[7..]))
            .unwrap()
            .len();
        let mut platform = json!({"os": "linux", "architecture": arch});
        if let Some(v) = variant {
            platform["variant"] = json!(v);
        }
        json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": size, "platform": platform
        })
    };
    let list = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [desc("amd", "amd64", None), desc("arm", "arm64", Some("v8"))]
    });
    let (digest, size) = put_blob(&layout, list.to_string().as_bytes());
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": digest, "size": size,
                "annotations": {
                    "io.containerd.image.name": "docker.io/library/multi:1.0",
                    "org.opencontainers.image.ref.name": "1.0"
                }
            },
            desc("base", host_arch(), None)
        ]
    });
    // The base image keeps its tag beside the nested index: two tags in one layout.
    let mut index = index;
    index["manifests"][1]["annotations"] = json!({"org.opencontainers.image.ref.name": "base"});
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    oracles
}

#[test]
fn nested_index_and_platforms() {
    let lab = Lab::new(UMOCI_TOOLS);
    let (amd, arm) = multi_platform(&lab);
    assert_eq!(amd, "/usr/bin/ping cap_net_raw=ep\n");
    assert_eq!(
        arm,
        "/usr/bin/armonly cap_kill=ep\n/usr/bin/ping cap_net_admin=p\n"
    );
    let img = format!("{}:1.0", lab.s("oci"));
    for (platform, want) in [
        ("linux/amd64", &amd),
        ("linux/arm64", &arm),
        ("linux/arm64/v8", &arm),
    ] {
        read_image(&img, &["--platform", platform])
            .ok()
            .stdout_is(want)
            .stderr_is("");
    }
    // Without --platform, the host's.
    let host = if host_arch() == "amd64" { &amd } else { &arm };
    read_image(&img, &[]).ok().stdout_is(host).stderr_is("");
    // The full containerd name works as a tag too, and Docker's short forms.
    for tag in ["docker.io/library/multi:1.0", "multi:1.0", "multi"] {
        read_image(&format!("{}:{tag}", lab.s("oci")), &[])
            .ok()
            .stdout_is(host)
            .stderr_is("");
    }
}

#[test]
fn missing_platform_and_ambiguous_tag_are_errors_naming_the_choices() {
    let lab = Lab::new(UMOCI_TOOLS);
    multi_platform(&lab);
    let oci = lab.s("oci");
    let img = format!("{oci}:1.0");
    let (on_host, host) = match host_arch() {
        "amd64" => ("linux/amd64", "linux/amd64"),
        _ => ("linux/arm64/v8", "linux/arm64"),
    };
    read_image(&img, &["--platform", "linux/s390x"])
        .status(2)
        .stdout_is("")
        .stderr_is(&format!(
            "fcap: '{img}': no image for platform linux/s390x; it has: \
             1.0, docker.io/library/multi:1.0 (linux/amd64); \
             1.0, docker.io/library/multi:1.0 (linux/arm64/v8); base ({host})\n"
        ));
    // No tag: the layout holds two images for this host (1.0 and base).
    read_image(&oci, &[])
        .status(2)
        .stdout_is("")
        .stderr_is(&format!(
            "fcap: '{oci}': it holds 2 images: \
             1.0, docker.io/library/multi:1.0 ({on_host}); base ({host}); \
             pick one with IMAGE:TAG or --platform OS/ARCH[/VARIANT]\n"
        ));
    read_image(&format!("{oci}:nope"), &[])
        .status(2)
        .stdout_is("")
        .stderr_has("no image tagged \"nope\"; it has: ");
    // One tag on two images for this host: another entry tagged 1.0 (without a
    // platform in the index: its config says the host's, as umoci wrote it).
    let layout = lab.p("oci");
    let arm = manifest_of_in(&layout, 1);
    let path = layout.join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    index["manifests"].as_array_mut().unwrap().push(json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": arm.0, "size": arm.1,
        "annotations": {"org.opencontainers.image.ref.name": "1.0"}
    }));
    std::fs::write(&path, index.to_string()).unwrap();
    read_image(&img, &[])
        .status(2)
        .stdout_is("")
        .stderr_is(&format!(
            "fcap: '{img}': it holds 2 images: \
             1.0, docker.io/library/multi:1.0 ({on_host}); 1.0 ({host}); \
             pick one with IMAGE:TAG or --platform OS/ARCH[/VARIANT]\n"
        ));
}

/// The digest and size of the `i`-th manifest the nested index of
/// [`multi_platform`] lists.
fn manifest_of_in(layout: &Path, i: usize) -> (String, u64) {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let nested = blob_json(layout, index["manifests"][0]["digest"].as_str().unwrap());
    let d = &nested["manifests"][i];
    (
        d["digest"].as_str().unwrap().to_string(),
        d["size"].as_u64().unwrap(),
    )
}

/// check --image takes --platform: a manifest of the arm64 image checks clean
/// against it and differs from the host's.
#[test]
fn check_image_picks_the_platform() {
    let lab = Lab::new(UMOCI_TOOLS);
    let (_, arm) = multi_platform(&lab);
    let img = format!("{}:1.0", lab.s("oci"));
    let m = manifest(&lab, "arm.caps", &arm);
    check(&[
        &m,
        "--image",
        &img,
        "--platform",
        "linux/arm64",
        "--root",
        "/",
    ])
    .ok()
    .stdout_is("");
    if host_arch() == "amd64" {
        check(&[&m, "--image", &img, "--root", "/"])
            .status(1)
            .stdout_is(
                "missing /usr/bin/armonly (manifest: cap_kill=ep)\n\
             different /usr/bin/ping cap_net_raw=ep (manifest: cap_net_admin=p)\n",
            );
    }
}

/// A root filesystem for the single-layer tests: capped files, a v2 value without
/// the effective bit, a hard link in the same directory and one in another.
fn layer_rootfs(lab: &Lab) {
    lab.sh(r#"
R=rootfs
mkdir -p $R/usr/bin $R/sbin $R/etc
cp /bin/true $R/usr/bin/ping && setcap cap_net_raw=ep $R/usr/bin/ping
ln $R/usr/bin/ping $R/usr/bin/ping-link
ln $R/usr/bin/ping $R/sbin/ping2
cp /bin/true $R/usr/bin/keep && setcap cap_chown,cap_fowner=ip $R/usr/bin/keep
cp /bin/true $R/usr/bin/plain
echo x > $R/etc/conf
"#);
}

const LAYER: &str = "\
/sbin/ping2 cap_net_raw=ep
/usr/bin/keep cap_chown,cap_fowner=ip
/usr/bin/ping cap_net_raw=ep
/usr/bin/ping-link cap_net_raw=ep
";

/// The same layer as GNU tar writes it, in a container: GNU tar puts the record on
/// the data entry only, and containerd and Docker chown every link entry, which
/// clears the inode's capability (image_engines.rs checks this against both).
const GNU_LAYER: &str = "/usr/bin/keep cap_chown,cap_fowner=ip\n";

/// The names of the hard-linked file in [`layer_rootfs`].
const LINKED: [&str; 3] = ["/sbin/ping2", "/usr/bin/ping", "/usr/bin/ping-link"];

/// The warning for a hard-linked file whose entries carry different records.
fn mixed_warning(p: &str) -> String {
    format!(
        "fcap: warning: {p}: the tar entries of this hard-linked file carry different capability \
         records (GNU tar writes one on the first name only); containerd and Docker leave the last \
         entry's on every name, as listed; podman and umoci keep another\n"
    )
}

/// fcap reads `image` as `want` (what containerd and Docker make of it), warning
/// about each of `warned` with `warning`, where unpacking by GNU tar, umoci or
/// podman (`oracle`) gives `other`: both views are spelt out.
#[track_caller]
fn reads_as_overlay(
    image: &str,
    want: &str,
    (warned, warning): (&[&str], fn(&str) -> String),
    other: &str,
    oracle: &str,
) {
    assert_eq!(oracle, other, "the other runtimes' view of {image}");
    let warnings: String = warned.iter().map(|p| warning(p)).collect();
    read_image(image, &[])
        .ok()
        .stdout_is(want)
        .stderr_is(&warnings);
}

/// Which PAX xattr records each entry of a tar carries, by Python's tarfile.
fn pax_records(lab: &Lab, tar: &str) -> String {
    lab.sh(&format!(
        "python3 -c '
import sys, tarfile
for m in tarfile.open(sys.argv[1]):
    keys = sorted(k.split(\".\")[0] for k in m.pax_headers if \"xattr\" in k)
    if m.isreg() or m.islnk():
        print(m.name, \"link\" if m.islnk() else \"file\", *keys)
' {tar}"
    ))
    .stdout()
}

#[test]
fn gnu_tar_layer_plain_gzip_and_zstd() {
    let lab = Lab::new(&["tar", "setcap", "getcap", "zstd", "gzip", "python3"]);
    layer_rootfs(&lab);
    lab.sh("tar --xattrs -C rootfs -cf gnu.tar . && \
         tar --xattrs -C rootfs -czf gnu.tar.gz . && \
         tar --xattrs --zstd -C rootfs -cf gnu.tar.zst .");
    // GNU tar writes the value on the first (data) entry of an inode only.
    let mut records: Vec<String> = pax_records(&lab, "gnu.tar")
        .lines()
        .map(String::from)
        .collect();
    records.sort();
    assert_eq!(
        records,
        [
            "./etc/conf file",
            "./sbin/ping2 link",
            "./usr/bin/keep file SCHILY",
            "./usr/bin/ping file SCHILY",
            "./usr/bin/ping-link link",
            "./usr/bin/plain file",
        ],
    );
    let mixed = (&LINKED[..], mixed_warning as fn(&str) -> String);
    for name in ["gnu.tar", "gnu.tar.gz", "gnu.tar.zst"] {
        let oracle = tar_oracle(&lab, &[lab.p(name)], false);
        reads_as_overlay(&lab.s(name), GNU_LAYER, mixed, LAYER, &oracle);
    }
    // A name says nothing: the content does.
    lab.sh("cp gnu.tar.zst layer.gz && cp gnu.tar.gz layer");
    reads_as_overlay(&lab.s("layer.gz"), GNU_LAYER, mixed, LAYER, LAYER);
    reads_as_overlay(&lab.s("layer"), GNU_LAYER, mixed, LAYER, LAYER);
}

#[test]
fn bsdtar_default_pax_writes_both_records() {
    let lab = Lab::new(&["bsdtar", "tar", "setcap", "getcap", "python3"]);
    layer_rootfs(&lab);
    lab.sh("bsdtar --xattrs --format pax -C rootfs -cf both.tar .");
    let records = pax_records(&lab, "both.tar");
    assert!(
        records.contains("./usr/bin/keep file LIBARCHIVE SCHILY\n"),
        "{records}"
    );
    // bsdtar puts the records on the hard-link entries too.
    assert_eq!(
        records.matches(" link LIBARCHIVE SCHILY\n").count(),
        2,
        "{records}"
    );
    reads_as(
        &lab.s("both.tar"),
        LAYER,
        &tar_oracle(&lab, &[lab.p("both.tar")], false),
    );
}

/// `--options xattrheader=LIBARCHIVE`: only the LIBARCHIVE record. fcap reports the
/// value (bsdtar restores it) and warns, because GNU tar, moby and containerd ignore
/// that record (GNU tar's extraction shows it).
#[test]
fn bsdtar_libarchive_only_values_are_reported_with_a_warning() {
    let lab = Lab::new(&["bsdtar", "tar", "setcap", "getcap", "python3"]);
    layer_rootfs(&lab);
    lab.sh("bsdtar --xattrs --format pax --options xattrheader=LIBARCHIVE -C rootfs -cf la.tar .");
    let records = pax_records(&lab, "la.tar");
    assert!(!records.contains("SCHILY"), "{records}");
    assert!(
        records.contains("./usr/bin/keep file LIBARCHIVE\n"),
        "{records}"
    );
    lab.sh("mkdir bsdx gnux && bsdtar --xattrs -xpf la.tar -C bsdx && tar --xattrs --xattrs-include='*' -xpf la.tar -C gnux 2>/dev/null");
    assert_eq!(
        getcap_tree(&lab.p("bsdx"), false),
        LAYER,
        "bsdtar restores the values"
    );
    assert_eq!(
        getcap_tree(&lab.p("gnux"), false),
        "",
        "GNU tar ignores the LIBARCHIVE records"
    );
    let r = read_image(&lab.s("la.tar"), &[]);
    r.ok().stdout_is(LAYER);
    let stderr = r.stderr();
    let warned: Vec<&str> = stderr.lines().collect();
    let w = |p: &str| {
        format!(
            "fcap: warning: {p}: the capability is only in a LIBARCHIVE.xattr pax record (bsdtar); \
             moby and containerd apply only SCHILY.xattr records, so a container would not get it"
        )
    };
    assert_eq!(
        warned,
        [
            w("/sbin/ping2"),
            w("/usr/bin/keep"),
            w("/usr/bin/ping"),
            w("/usr/bin/ping-link")
        ],
    );
}

/// Hard links: every name reports the one value of the inode, the one the last
/// entry naming it carries, as containerd and Docker leave it (image_engines.rs): bsdtar
/// puts the record on every entry, so every name is capped; GNU tar on the first
/// entry only, so no name is, whichever comes first, with a warning naming each
/// (GNU tar's own extraction, umoci and podman keep the first entry's value).
#[test]
fn hard_links_report_the_inode_capabilities() {
    let lab = Lab::new(&["bsdtar", "tar", "setcap", "getcap", "python3"]);
    layer_rootfs(&lab);
    lab.sh(
        "tar --xattrs -C rootfs -cf gnu.tar . && bsdtar --xattrs --format pax -C rootfs -cf bsd.tar . && \
         tar --xattrs -C rootfs -cf gnu-one.tar ./usr/bin/ping-link ./sbin/ping2 && \
         tar --xattrs -C rootfs -cf gnu-rev.tar ./sbin/ping2 ./usr/bin/ping",
    );
    let links = "/sbin/ping2 cap_net_raw=ep\n/usr/bin/ping cap_net_raw=ep\n/usr/bin/ping-link cap_net_raw=ep\n";
    let out = read_image(
        &lab.s("bsd.tar"),
        &["/sbin", "/usr/bin/ping", "/usr/bin/ping-link"],
    );
    out.ok().stdout_is(links).stderr_is("");
    reads_as(
        &lab.s("bsd.tar"),
        LAYER,
        &tar_oracle(&lab, &[lab.p("bsd.tar")], false),
    );
    let mixed = (&LINKED[..], mixed_warning as fn(&str) -> String);
    reads_as_overlay(
        &lab.s("gnu.tar"),
        GNU_LAYER,
        mixed,
        LAYER,
        &tar_oracle(&lab, &[lab.p("gnu.tar")], false),
    );
    let one = pax_records(&lab, "gnu-one.tar");
    assert_eq!(one, "./usr/bin/ping-link file SCHILY\n./sbin/ping2 link\n");
    reads_as_overlay(
        &lab.s("gnu-one.tar"),
        "",
        (&["/sbin/ping2", "/usr/bin/ping-link"], mixed_warning),
        "/sbin/ping2 cap_net_raw=ep\n/usr/bin/ping-link cap_net_raw=ep\n",
        &tar_oracle(&lab, &[lab.p("gnu-one.tar")], false),
    );
    reads_as_overlay(
        &lab.s("gnu-rev.tar"),
        "",
        (&["/sbin/ping2", "/usr/bin/ping"], mixed_warning),
        "/sbin/ping2 cap_net_raw=ep\n/usr/bin/ping cap_net_raw=ep\n",
        &tar_oracle(&lab, &[lab.p("gnu-rev.tar")], false),
    );
}

/// Write a manifest file in the lab.
fn manifest(lab: &Lab, name: &str, text: &str) -> String {
    std::fs::write(lab.p(name), text).unwrap();
    lab.s(name)
}

fn check(args: &[&str]) -> Run {
    let mut v = vec!["check"];
    v.extend_from_slice(args);
    fcap_run(v)
}

/// A manifest captured from the image checks clean against the image and against
/// the same image unpacked on the host, and one captured from the host tree checks
/// clean against the image.
#[test]
fn check_image_against_manifests_from_the_image_and_from_the_host() {
    let lab = Lab::new(UMOCI_TOOLS);
    umoci_image(&lab);
    let img = format!("{}:img", lab.s("oci"));
    let from_image = read_image(&img, &[]).ok().stdout();
    assert_eq!(from_image, IMG);
    let m = manifest(&lab, "image.caps", &from_image);
    check(&[&m, "--image", &img])
        .ok()
        .stdout_is("")
        .stderr_is("");
    check(&[&m, "--image", &img, "--root", "/"])
        .ok()
        .stdout_is("");
    // The host: umoci unpack, then `fcap read -r` of the rootfs, whose paths are the
    // host's: strip the prefix and the manifest checks against the image.
    lab.sh("umoci unpack --image oci:img host");
    let rootfs = lab.s("host/rootfs");
    let from_host = fcap_run(["read", "-r", &rootfs]).ok().stdout();
    let stripped: String = from_host
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix(&rootfs).unwrap()))
        .collect();
    assert_eq!(stripped, IMG);
    let h = manifest(&lab, "host.caps", &stripped);
    check(&[&h, "--image", &img, "--root", "/"])
        .ok()
        .stdout_is("");
    // And the other way: the image's manifest, put under the rootfs, checks clean on
    // the host.
    let prefixed: String = from_image
        .lines()
        .map(|l| format!("{rootfs}{l}\n"))
        .collect();
    let p = manifest(&lab, "prefixed.caps", &prefixed);
    check(&[&p, "--root", &rootfs]).ok().stdout_is("");
}

/// missing, different and (with --root) unexpected, exit 1, with the same lines the
/// host check prints for the unpacked image (paths aside).
#[test]
fn check_image_reports_missing_different_and_unexpected() {
    let lab = Lab::new(UMOCI_TOOLS);
    umoci_image(&lab);
    let img = format!("{}:img", lab.s("oci"));
    let text = "\
/usr/bin/gone cap_kill=ep
/usr/bin/ping cap_net_admin=ep
/usr/bin/other cap_chown=p
/etc/keep cap_setgid=p
";
    let m = manifest(&lab, "m.caps", text);
    let want = "\
missing /usr/bin/gone (manifest: cap_kill=ep)
different /usr/bin/ping cap_net_raw=ep (manifest: cap_net_admin=ep)
different /usr/bin/other none (manifest: cap_chown=p)
";
    check(&[&m, "--image", &img])
        .status(1)
        .stdout_is(want)
        .stderr_is("");
    let with_root = check(&[&m, "--image", &img, "--root", "/usr"]);
    with_root.status(1).stdout_is(&format!(
        "{want}unexpected /usr/bin/late cap_dac_override=p\nunexpected /usr/sbin/keep cap_net_bind_service=ep\n"
    ));
    // The host check of the unpacked image says the same, with host paths.
    lab.sh("umoci unpack --image oci:img host");
    let rootfs = lab.s("host/rootfs");
    let prefixed: String = text.lines().map(|l| format!("{rootfs}{l}\n")).collect();
    let p = manifest(&lab, "prefixed.caps", &prefixed);
    let host = check(&[&p, "--root", &format!("{rootfs}/usr")]);
    host.status(1);
    assert_eq!(host.stdout().replace(&rootfs, ""), with_root.stdout());
    // JSON: one object per difference.
    let j = check(&[&m, "--image", &img, "--root", "/usr", "--json"]);
    let st: Vec<String> = j
        .status(1)
        .json_lines()
        .iter()
        .map(|v| {
            format!(
                "{} {}",
                v["status"].as_str().unwrap(),
                v["path"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        st,
        [
            "missing /usr/bin/gone",
            "different /usr/bin/ping",
            "different /usr/bin/other",
            "unexpected /usr/bin/late",
            "unexpected /usr/sbin/keep"
        ]
    );
}

/// Reading needs no privilege: a 0644 image read by nobody (no capabilities, no
/// supplementary groups) gives root's answer, for an archive and a layout directory.
#[test]
fn nobody_reads_a_0644_image() {
    let lab = Lab::new(&["umoci", "skopeo", "setcap", "getcap", "tar", "setpriv"]);
    umoci_image(&lab);
    lab.sh("skopeo copy -q oci:oci:img oci-archive:y.tar:capped && chmod 0644 y.tar && chmod -R a+rX,go-w oci");
    // A copy of the binary in the lab: the build tree may be out of nobody's reach.
    let bin = lab.p("fcap");
    cp(Path::new(env!("CARGO_BIN_EXE_fcap")), &bin);
    let as_nobody = |image: &str| {
        let mut c = as_nobody(&bin);
        c.args(["read", "--image", image]).env("LC_ALL", "C");
        run(c)
    };
    let t = lab.s("y.tar");
    as_nobody(&t).ok().stdout_is(IMG).stderr_is("");
    as_nobody(&format!("{}:img", lab.s("oci")))
        .ok()
        .stdout_is(IMG)
        .stderr_is("");
    // nobody really cannot write there: the read did not need to.
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "touch"])
        .arg(lab.p("probe"));
    assert_ne!(run(c).code(), 0, "nobody must not be able to write the lab");
}

/// `-v` lists every file as `getcap -v -r` does: directories and symlinks as "not a
/// regular file", and fifos and devices as files without capabilities (nftw's
/// FTW_F), whatever the layers hid or replaced on the way.
#[test]
fn verbose_lists_every_entry_like_getcap_v() {
    let lab = Lab::new(&[UMOCI_TOOLS, &["bsdtar"]].concat());
    umoci_image(&lab);
    lab.sh(
        "mkdir -p odd/dev odd/bin && mkfifo odd/fifo && mknod odd/dev/null c 1 3 && \
         cp /bin/true odd/bin/t && setcap cap_kill=p odd/bin/t && ln odd/bin/t odd/bin/hard && \
         ln -s t odd/bin/soft && tar --xattrs -C odd -cf odd.tar .",
    );
    let want = "\
/ (Not a regular file)
/bin (Not a regular file)
/bin/hard cap_kill=p
/bin/soft (Not a regular file)
/bin/t cap_kill=p
/dev (Not a regular file)
/dev/null
/fifo
";
    assert_eq!(tar_oracle_with(&lab, &[lab.p("odd.tar")], &["-v"]), want);
    // GNU tar's link entry has no record: in a container no name is capped.
    read_image(&lab.s("odd.tar"), &["-v"])
        .ok()
        .stdout_is(&want.replace(" cap_kill=p", ""))
        .stderr_is(&format!(
            "{}{}",
            mixed_warning("/bin/hard"),
            mixed_warning("/bin/t")
        ));
    // bsdtar writes the record on the link entry too.
    lab.sh("bsdtar --xattrs --format pax -C odd -cf odd-bsd.tar .");
    read_image(&lab.s("odd-bsd.tar"), &["-v"])
        .ok()
        .stdout_is(want)
        .stderr_is("");
    // A layer made from a list of files has no entries for their directories (nor
    // for the root): unpacking creates them, so they are listed.
    lab.sh("tar --xattrs -C odd -cf files.tar bin/t dev/null");
    let want = "\
/ (Not a regular file)
/bin (Not a regular file)
/bin/t cap_kill=p
/dev (Not a regular file)
/dev/null
";
    assert_eq!(tar_oracle_with(&lab, &[lab.p("files.tar")], &["-v"]), want);
    read_image(&lab.s("files.tar"), &["-v"])
        .ok()
        .stdout_is(want)
        .stderr_is("");
    let j = read_image(&lab.s("files.tar"), &["-v", "--json"]);
    let layers: Vec<(String, Value)> = j
        .ok()
        .json_lines()
        .into_iter()
        .map(|v| {
            (
                v["path"].as_str().unwrap().to_string(),
                v["layer"]["index"].clone(),
            )
        })
        .collect();
    assert_eq!(
        layers,
        [
            ("/".to_string(), Value::Null),
            ("/bin".to_string(), Value::Null),
            ("/bin/t".to_string(), json!(0)),
            ("/dev".to_string(), Value::Null),
            ("/dev/null".to_string(), json!(0)),
        ]
    );
    assert!(j.json_lines().iter().all(|v| v.get("layer").is_some()));
    read_image(&lab.s("files.tar"), &["-v", "/bin"])
        .ok()
        .stdout_is("/bin (Not a regular file)\n/bin/t cap_kill=p\n");
    for tag in ["one", "img"] {
        let oracle = umoci_oracle_with(&lab, &format!("oci:{tag}"), &["-v"]);
        assert!(oracle.contains("/usr/bin/plain\n"), "{oracle}");
        read_image(&format!("{}:{tag}", lab.s("oci")), &["-v"])
            .ok()
            .stdout_is(&oracle)
            .stderr_is("");
    }
}

/// PATH arguments resolve through the image's own symlinks, as the kernel resolves
/// them on the unpacked tree, and name what they list under the path as given (as
/// `read -r` and getcap do): a merged-/usr image's /lib/x is its /usr/lib/x.
#[test]
fn paths_resolve_through_the_images_own_symlinks() {
    let lab = Lab::new(UMOCI_TOOLS);
    lab.sh(r#"
umoci init --layout oci
umoci new --image oci:base
umoci unpack --image oci:base bundle
R=bundle/rootfs
mkdir -p $R/usr/bin $R/usr/lib/helpers
ln -s usr/bin $R/bin
ln -s usr/lib $R/lib
ln -s /usr/lib/helpers $R/usr/helpers
cp /bin/true $R/usr/bin/ping && setcap cap_net_raw=ep $R/usr/bin/ping
cp /bin/true $R/usr/lib/helpers/h && setcap cap_kill=p $R/usr/lib/helpers/h
umoci repack --image oci:merged bundle
umoci unpack --image oci:merged host
"#);
    let rootfs = lab.p("host/rootfs");
    let img = format!("{}:merged", lab.s("oci"));
    for (args, want) in [
        (&["/bin/ping"][..], "/bin/ping cap_net_raw=ep\n"),
        (&["/lib/helpers"], "/lib/helpers/h cap_kill=p\n"),
        (&["/lib/helpers/h", "/bin"], "/lib/helpers/h cap_kill=p\n"),
    ] {
        // getcap on the unpacked tree (the kernel follows the links on the way).
        let mut oracle = String::new();
        for a in args {
            let mut c = Command::new("getcap");
            c.arg("-r").arg(format!("{}{a}", rootfs.display()));
            let r = run(c);
            oracle += &r.ok().stdout().replace(rootfs.to_str().unwrap(), "");
        }
        assert_eq!(oracle, want, "getcap {args:?}");
        read_image(&img, args).ok().stdout_is(want).stderr_is("");
    }
    // An absolute link leads to the image's root, never the host's (so getcap on
    // the host cannot be the oracle here: it would follow it out of the rootfs).
    read_image(&img, &["/usr/helpers/h"])
        .ok()
        .stdout_is("/usr/helpers/h cap_kill=p\n")
        .stderr_is("");
    // A symlink named itself is not followed (getcap -r, read -r): -v shows it.
    read_image(&img, &["-v", "/bin"])
        .ok()
        .stdout_is("/bin (Not a regular file)\n");
    // check resolves a manifest's paths the same way.
    let m = lab.p("m.caps");
    std::fs::write(&m, "/bin/ping cap_net_raw=ep\n/lib/helpers/h cap_kill=p\n").unwrap();
    let m = m.to_str().unwrap();
    check(&[m, "--image", &img, "--root", "/lib/helpers"])
        .ok()
        .stdout_is("");
    check(&[m, "--image", &img, "--root", "/usr/lib"])
        .ok()
        .stdout_is("");
}

/// Random layer stacks made by umoci, against `umoci unpack` + `getcap -n -v -r`:
/// files gain, change and lose capabilities (setcap, setcap -r, a chown that clears
/// them), are deleted, replaced by directories and back, hard-linked across layers,
/// shadowed by symlinks, whited out and hidden by opaque directories (umoci insert);
/// each stack is also read as skopeo's docker-archive and zstd copies, and serially.
/// `FCAP_IMAGE_SEED` replays a run, `FCAP_IMAGE_CASES` sets how many stacks.
#[test]
fn random_umoci_layers_match_umoci_unpack() {
    let (seed, cases, mut rng) = random_run("FCAP_IMAGE", "random umoci layers", 3);
    let lab = Lab::new(&["umoci", "skopeo", "setcap", "getcap", "tar"]);
    const PATHS: &[&str] = &[
        "a", "a/x", "a/y", "a/b", "a/b/z", "a/b/w", "c", "c/u", "c/v/t", "d",
    ];
    const CAPS: &[&str] = &[
        "cap_net_raw=ep",
        "cap_chown,cap_kill=p",
        "cap_setuid=ei",
        "cap_net_bind_service+eip",
        "cap_sys_admin,cap_dac_override=ep",
    ];
    for case in 0..cases {
        let dir = format!("case{case}");
        lab.sh(&format!(
            "mkdir {dir} && cd {dir} && umoci init --layout oci && umoci new --image oci:t0 && \
             umoci unpack --image oci:t0 bundle"
        ));
        let root = lab.p(&format!("{dir}/bundle/rootfs"));
        let mut log = Vec::new();
        let layers = 2 + rng.next() % 3;
        for n in 1..=layers {
            let (from, to) = (format!("t{}", n - 1), format!("t{n}"));
            let kind = rng.next() % 100;
            // umoci insert writes no entries for the target's parents: unpacking
            // fails where one of them is not a directory (as it would in a runtime).
            let parents_are_dirs = |t: &str| {
                let mut at = root.clone();
                Path::new(t).parent().unwrap().components().all(|c| {
                    at.push(c);
                    at.symlink_metadata().map_or(true, |m| m.is_dir())
                })
            };
            let whiteout = *rng.pick(PATHS);
            let opaque = *rng.pick(&["a", "a/b", "c"]);
            if n > 1 && kind < 15 && parents_are_dirs(whiteout) {
                let target = whiteout;
                log.push(format!("{to}: insert --whiteout /{target}"));
                lab.sh(&format!(
                    "cd {dir} && umoci insert --image oci:{from} --tag {to} --whiteout /{target} && \
                     rm -rf bundle && umoci unpack --image oci:{to} bundle"
                ));
                continue;
            }
            if n > 1 && (15..30).contains(&kind) && parents_are_dirs(opaque) {
                let target = opaque;
                let caps = *rng.pick(CAPS);
                // Opaque (hides the lower directory) or not (merges into it).
                let how = if rng.chance(70) { "--opaque" } else { "" };
                log.push(format!("{to}: insert {how} src(n {caps}) /{target}"));
                lab.sh(&format!(
                    "cd {dir} && rm -rf src && mkdir src && echo n > src/n && setcap {caps} src/n && \
                     umoci insert --image oci:{from} --tag {to} {how} src /{target} && \
                     rm -rf bundle && umoci unpack --image oci:{to} bundle"
                ));
                continue;
            }
            for _ in 0..1 + rng.next() % 5 {
                log.push(format!("{to}: {}", random_op(&mut rng, &root, PATHS, CAPS)));
            }
            lab.sh(&format!(
                "cd {dir} && umoci repack --refresh-bundle --image oci:{to} bundle"
            ));
        }
        let img = format!("{}:t{layers}", lab.s(&format!("{dir}/oci")));
        let oracle = umoci_oracle_with(&lab, &format!("{dir}/oci:t{layers}"), &["-n", "-v"]);
        let r = read_image(&img, &["-v", "--rootid"]);
        assert_eq!(
            r.stdout(),
            oracle,
            "FCAP_IMAGE_SEED={seed} case {case}: fcap read --image (left) against umoci unpack + \
             getcap -n -v -r (right) after:\n{}\nstderr: {}",
            log.join("\n"),
            r.stderr()
        );
        r.ok();
        // The same image as a legacy docker save and with zstd layers, and read
        // serially: the same answer.
        lab.sh(&format!(
            "cd {dir} && skopeo copy -q oci:oci:t{layers} docker-archive:x.tar:random:latest && \
             skopeo copy -q --dest-compress-format zstd oci:oci:t{layers} oci:zstd:t"
        ));
        for other in [
            lab.s(&format!("{dir}/x.tar")),
            lab.s(&format!("{dir}/zstd:t")),
        ] {
            let r = read_image(&other, &["-v", "--rootid"]);
            assert_eq!(
                r.stdout(),
                oracle,
                "FCAP_IMAGE_SEED={seed} case {case}: {other}"
            );
        }
        let mut c = fcap();
        c.args(["read", "-v", "--rootid", "--image", &img])
            .env("FCAP_SCAN_THREADS", "1");
        let serial = run(c);
        assert_eq!(
            serial.stdout(),
            oracle,
            "FCAP_IMAGE_SEED={seed} case {case}: serial"
        );
    }
}

/// One random change to the bundle's rootfs; returns what it did, for the log.
fn random_op(rng: &mut SplitMix, root: &Path, paths: &[&str], caps: &[&str]) -> String {
    let p = *rng.pick(paths);
    let at = root.join(p);
    let exists = at.symlink_metadata().is_ok();
    let is_file = at.symlink_metadata().is_ok_and(|m| m.is_file());
    // Parents must be directories (a file or symlink in the way goes).
    let make_parents = |at: &Path| {
        let mut cur = root.to_path_buf();
        for c in at
            .strip_prefix(root)
            .unwrap()
            .parent()
            .unwrap()
            .components()
        {
            cur.push(c);
            match cur.symlink_metadata() {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    std::fs::remove_file(&cur).unwrap();
                    std::fs::create_dir(&cur).unwrap();
                }
                Err(_) => std::fs::create_dir(&cur).unwrap(),
            }
        }
    };
    let clear = |at: &Path| match at.symlink_metadata() {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(at).unwrap(),
        Ok(_) => std::fs::remove_file(at).unwrap(),
        Err(_) => {}
    };
    match rng.next() % 100 {
        0..=39 => {
            make_parents(&at);
            clear(&at);
            std::fs::write(&at, format!("{}\n", rng.next())).unwrap();
            let c = *rng.pick(caps);
            if rng.chance(15) {
                setcap_on(&at, &["-n", "1000", c]);
                format!("file {p} v3 {c}")
            } else if rng.chance(85) {
                setcap_on(&at, &[c]);
                format!("file {p} {c}")
            } else {
                format!("file {p}")
            }
        }
        40..=49 if is_file => {
            let c = *rng.pick(caps);
            setcap_on(&at, &[c]);
            format!("setcap {c} {p}")
        }
        50..=57 if is_file && raw_xattr(&at).is_some() => {
            setcap_on(&at, &["-r"]);
            format!("setcap -r {p}")
        }
        58..=62 if is_file => {
            std::os::unix::fs::lchown(&at, Some(1), Some(1)).unwrap();
            format!("chown 1:1 {p}")
        }
        63..=74 if exists => {
            clear(&at);
            format!("rm -r {p}")
        }
        75..=82 => {
            make_parents(&at);
            clear(&at);
            std::fs::create_dir(&at).unwrap();
            format!("mkdir {p}")
        }
        83..=92 if is_file => {
            let q = *rng.pick(paths);
            let to = root.join(q);
            // Not onto itself, its own directories, or a path under it (making
            // that path's parents would turn the file into a directory).
            if to == at || at.starts_with(&to) || to.starts_with(&at) {
                return format!("(no link {p} {q})");
            }
            make_parents(&to);
            clear(&to);
            std::fs::hard_link(&at, &to).unwrap();
            format!("ln {p} {q}")
        }
        93..=99 => {
            make_parents(&at);
            clear(&at);
            std::os::unix::fs::symlink("x", &at).unwrap();
            format!("ln -s x {p}")
        }
        _ => format!("(nothing at {p})"),
    }
}

/// An OCI layout (tag `t`) around these layer tars, as a builder would write it:
/// uncompressed layer blobs, a config with their diff_ids, a manifest, index.json.
fn layout_of(lab: &Lab, name: &str, layers: &[PathBuf]) -> String {
    let dir = lab.p(name);
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let descs: Vec<Value> = layers
        .iter()
        .map(|l| {
            let (digest, size) = put_blob(&dir, &std::fs::read(l).unwrap());
            json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": size})
        })
        .collect();
    let config = json!({
        "architecture": host_arch(), "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": descs.iter().map(|d| d["digest"].clone()).collect::<Vec<_>>()},
        "history": layers.iter().map(|l| json!({"created_by": l.file_name().unwrap().to_str().unwrap()})).collect::<Vec<_>>()
    });
    let (cd, cs) = put_blob(&dir, config.to_string().as_bytes());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": descs
    });
    let (md, ms) = put_blob(&dir, manifest.to_string().as_bytes());
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
        "annotations": {"org.opencontainers.image.ref.name": "t"}
    }]});
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    format!("{}:t", dir.display())
}

/// Whiteouts and opaque markers in layers GNU tar writes in a chosen order: a
/// whiteout hides only what lower layers had (never an entry of its own layer,
/// before or after it), and an opaque marker works before or after the entries of
/// its directory. The oracle is GNU tar extracting the layers in order with each
/// layer's whiteouts applied to the layers below.
#[test]
fn gnu_tar_layers_whiteouts_never_hide_their_own_layer() {
    let lab = Lab::new(&["tar", "setcap", "getcap"]);
    lab.sh(
        r#"
mkdir -p l1/usr/bin l1/opt/a l1/opt/b l2/usr/bin l2/opt/a l2/opt/b
put() { cp /bin/true "$1"; setcap "$2" "$1"; }
put l1/usr/bin/x cap_kill=p
put l1/usr/bin/y cap_chown=p
put l1/usr/bin/z cap_fowner=p
put l1/opt/a/old cap_setuid=p
put l1/opt/b/old cap_setgid=p
put l1/opt/keep cap_net_raw=ep
mkdir -p l1/srv/d l2/srv/d
put l1/srv/d/old cap_kill=ep
tar --xattrs -C l1 -cf layer1.tar .
# Layer 2: x comes back (with other caps) in the same layer as its whiteout,
# once after it and once before it; y is whited out; z untouched.
put l2/usr/bin/x cap_sys_nice=p
: > l2/usr/bin/.wh.x
: > l2/usr/bin/.wh.y
put l2/opt/a/new cap_net_admin=p
put l2/opt/b/new cap_sys_time=p
: > l2/opt/a/.wh..wh..opq
: > l2/opt/b/.wh..wh..opq
# srv/d is deleted and made again in the same layer (rm -r d && mkdir d).
: > l2/srv/.wh.d
put l2/srv/d/new cap_kill=p
# opt/a: marker first; opt/b: marker last.
tar --xattrs -C l2 --no-recursion -cf layer2.tar     usr usr/bin usr/bin/.wh.x usr/bin/x usr/bin/.wh.y     opt opt/a opt/a/.wh..wh..opq opt/a/new opt/b opt/b/new opt/b/.wh..wh..opq \
    srv srv/.wh.d srv/d srv/d/new
tar --xattrs -C l2 --no-recursion -cf layer2r.tar     usr usr/bin usr/bin/x usr/bin/.wh.x usr/bin/.wh.y     opt opt/b opt/b/.wh..wh..opq opt/b/new opt/a opt/a/new opt/a/.wh..wh..opq \
    srv srv/d srv/d/new srv/.wh.d
"#,
    );
    let want = "\
/opt/a/new cap_net_admin=p
/opt/b/new cap_sys_time=p
/opt/keep cap_net_raw=ep
/srv/d/new cap_kill=p
/usr/bin/x cap_sys_nice=p
/usr/bin/z cap_fowner=p
";
    for (name, second) in [("order1", "layer2.tar"), ("order2", "layer2r.tar")] {
        let layers = [lab.p("layer1.tar"), lab.p(second)];
        let img = layout_of(&lab, name, &layers);
        reads_as(&img, want, &tar_oracle(&lab, &layers, false));
        let j = read_image(&img, &["--json", "/usr/bin/x"])
            .ok()
            .json_lines();
        assert_eq!(j[0]["layer"]["index"], 1);
        assert_eq!(j[0]["layer"]["created_by"], second);
    }
}

/// --exclude: a name pattern leaves out the same entries as `read -r --exclude` on
/// the unpacked tree; a whole-path pattern is image-absolute.
#[test]
fn exclude_patterns_in_an_image() {
    let lab = Lab::new(UMOCI_TOOLS);
    umoci_image(&lab);
    lab.sh("umoci unpack --image oci:img host");
    let rootfs = lab.s("host/rootfs");
    let img = format!("{}:img", lab.s("oci"));
    for pat in ["bin", "p*", "dir", "*e*", "**/late", "keep"] {
        let host = fcap_run(["read", "-r", "-v", "--exclude", pat, &rootfs])
            .ok()
            .stdout();
        let host: String = host
            .lines()
            .map(|l| match l.strip_prefix(&rootfs).unwrap() {
                r if r.starts_with(' ') => format!("/{r}\n"),
                r => format!("{r}\n"),
            })
            .collect();
        read_image(&img, &["-v", "--exclude", pat])
            .ok()
            .stdout_is(&host)
            .stderr_is("");
    }
    for (pat, want) in [
        (
            "/usr/bin",
            "/etc/dir/new cap_fowner=ei\n/etc/keep cap_setgid=p\n/usr/sbin/keep cap_net_bind_service=ep\n",
        ),
        (
            "/etc/**",
            "/usr/bin/late cap_dac_override=p\n/usr/bin/ping cap_net_raw=ep\n/usr/sbin/keep cap_net_bind_service=ep\n",
        ),
        (
            "/usr/*/keep",
            "/etc/dir/new cap_fowner=ei\n/etc/keep cap_setgid=p\n/usr/bin/late cap_dac_override=p\n/usr/bin/ping cap_net_raw=ep\n",
        ),
    ] {
        read_image(&img, &["--exclude", pat]).ok().stdout_is(want);
    }
}

/// The warning for a directory an upper layer implies where a lower one has a
/// symlink.
fn implied_dir_warning(p: &str, target: &str) -> String {
    format!(
        "fcap: warning: {p}: a layer has entries below it but none for it: containerd and Docker \
         (overlay) make it a directory that hides the symlink to {target} of a lower layer; podman \
         with vfs storage and umoci follow the symlink instead\n"
    )
}

#[test]
fn entries_under_a_lower_layers_directory_symlink_make_a_directory() {
    // A merged-/usr base (lib -> usr/lib); a later layer adds /lib/c and another
    // whites out /lib/old. containerd's and Docker's overlay appliers write each
    // layer into an empty directory, where the lower symlink is not: /lib becomes
    // a real directory holding c, and the whiteout hides nothing below the link
    // (image_engines.rs checks both). umoci follows the link: fcap warns, naming /lib.
    let lab = Lab::new(UMOCI_TOOLS);
    lab.sh("umoci init --layout oci && umoci new --image oci:base
         umoci unpack --image oci:base b >/dev/null
         mkdir -p b/rootfs/usr/lib && ln -s usr/lib b/rootfs/lib
         cp /bin/true b/rootfs/usr/lib/old && setcap cap_net_raw=ep b/rootfs/usr/lib/old
         umoci repack --image oci:one b >/dev/null
         cp /bin/true c && setcap cap_kill=p c
         umoci insert --image oci:one --tag two c /lib/c >/dev/null
         umoci insert --image oci:two --tag three --whiteout /lib/old >/dev/null");
    let oci = lab.s("oci");
    let want = "/lib/c cap_kill=p\n/usr/lib/old cap_net_raw=ep\n";
    let warned = (
        &["/lib"][..],
        (|p: &str| implied_dir_warning(p, "usr/lib")) as fn(&str) -> String,
    );
    reads_as_overlay(
        &format!("{oci}:two"),
        want,
        warned,
        "/usr/lib/c cap_kill=p\n/usr/lib/old cap_net_raw=ep\n",
        &umoci_oracle(&lab, "oci:two", false),
    );
    reads_as_overlay(
        &format!("{oci}:three"),
        want,
        warned,
        "/usr/lib/c cap_kill=p\n",
        &umoci_oracle(&lab, "oci:three", false),
    );
    read_image(&format!("{oci}:three"), &["/lib/c"])
        .ok()
        .stdout_is("/lib/c cap_kill=p\n");
    // A path the image does not have is an error, as on the host.
    read_image(&format!("{oci}:three"), &["/nonexistent"])
        .status(2)
        .stdout_is("")
        .stderr_has("'/nonexistent': No such file or directory in");
}

#[test]
fn a_directory_that_replaces_a_lower_symlink_takes_the_entries_below_it() {
    // Lower: a -> x. Upper (umoci insert of a directory at /a): the directory
    // entry replaces the link, so a/n lands in the new /a, not in /x.
    let lab = Lab::new(UMOCI_TOOLS);
    lab.sh("umoci init --layout oci && umoci new --image oci:base
         umoci unpack --image oci:base b >/dev/null
         mkdir -p b/rootfs/x && ln -s x b/rootfs/a
         cp /bin/true b/rootfs/x/old && setcap cap_net_raw=ep b/rootfs/x/old
         umoci repack --image oci:one b >/dev/null
         mkdir d && cp /bin/true d/n && setcap cap_kill=p d/n
         umoci insert --image oci:one --tag two d /a >/dev/null");
    reads_as(
        &format!("{}:two", lab.s("oci")),
        "/a/n cap_kill=p\n/x/old cap_net_raw=ep\n",
        &umoci_oracle(&lab, "oci:two", false),
    );
}

#[test]
fn a_whiteout_named_only_wh_removes_its_directory() {
    // containerd and moby join the empty name to the directory and remove it.
    let lab = Lab::new(&["tar", "setcap", "getcap"]);
    lab.sh(r#"
mkdir -p l1/opt/app l1/usr/bin l2/opt/app
cp /bin/true l1/opt/app/tool && setcap cap_kill=p l1/opt/app/tool
cp /bin/true l1/usr/bin/keep && setcap cap_chown=p l1/usr/bin/keep
tar --xattrs -C l1 -cf layer1.tar .
: > l2/opt/app/.wh.
tar --xattrs -C l2 -cf layer2.tar .
"#);
    let layers = [lab.p("layer1.tar"), lab.p("layer2.tar")];
    let img = layout_of(&lab, "img", &layers);
    reads_as(
        &img,
        "/usr/bin/keep cap_chown=p\n",
        &tar_oracle(&lab, &layers, false),
    );
}
