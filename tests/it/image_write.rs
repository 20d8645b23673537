//! `fcap grant|revoke|set --image IN --output OUT`: the output image is checked by
//! the tools that consume images, never by fcap alone: `umoci unpack` + libcap's
//! `getcap` (digests, sizes, diff_ids and the xattrs on a real kernel), `skopeo`
//! (structure, digests), and a private `dockerd` and `podman` that load the result
//! and run a probe printing its own `/proc/self/status`.

use crate::engines::{Dockerd, Podman};
use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A bash function `dyn BIN DEST ROOT` that copies a dynamically linked program and
/// the libraries `ldd` names into a root filesystem, at the same paths.
const DYN: &str = r#"
dyn() {
  mkdir -p "$3/$(dirname "$2")"; cp "$1" "$3/$2"
  for l in $(ldd "$1" | grep -o '/[^ ]*'); do
    mkdir -p "$3/$(dirname "$l")"; cp -n "$l" "$3/$l"
  done
}
"#;

/// `oci:base`: merged-usr (`/bin -> usr/bin`), `/usr/bin/probe` (a copy of cat, so
/// `probe /proc/self/status` prints its own capabilities; mtime 1234567890 and a
/// `user.origin` xattr) with a second name `/usr/bin/probe2` (a hard link), `/usr/bin/plain`, and user 1000.
fn probe_image(lab: &Lab) {
    lab.sh(&format!(
        r#"{DYN}
umoci init --layout oci
umoci new --image oci:base
umoci unpack --image oci:base b
R=b/rootfs
dyn /bin/cat usr/bin/probe $R
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.origin", b"lab")' $R/usr/bin/probe
touch -d @1234567890 $R/usr/bin/probe
ln $R/usr/bin/probe $R/usr/bin/probe2
cp /bin/true $R/usr/bin/plain
mkdir -p $R/etc/dir
ln -s usr/bin $R/bin
umoci repack --image oci:base --history.created_by='COPY probe' b
umoci config --image oci:base --config.user 1000 --history.created_by='USER 1000'
"#
    ));
}

/// `getcap -r -n` of `umoci unpack IMAGE`, image-absolute.
fn unpacked_caps(lab: &Lab, image: &str) -> String {
    let b = tempfile::Builder::new()
        .prefix("unpack")
        .tempdir_in(lab.d.path())
        .unwrap();
    let bundle = b.path().join("b");
    let mut c = Command::new("umoci");
    c.args(["unpack", "--image", image])
        .arg(&bundle)
        .current_dir(lab.d.path());
    run(c).ok();
    let root = bundle.join("rootfs");
    let mut c = Command::new("getcap");
    c.args(["-r", "-n"]).arg(&root);
    let out = run(c).ok().stdout();
    let mut lines: Vec<String> = out
        .lines()
        .map(|l| l.strip_prefix(root.to_str().unwrap()).unwrap().to_string())
        .collect();
    lines.sort();
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// The entries of a layer blob (`tar tv` columns type, mode, owner, name, link)
/// and its pax records, as Python's tarfile reads them.
fn layer_listing(blob: &Path) -> String {
    let mut c = Command::new("python3");
    c.arg("-c")
        .arg(
            r#"
import sys, tarfile
for m in tarfile.open(sys.argv[1]):
    pax = {k: v.encode('utf-8', 'surrogateescape').hex() for k, v in sorted(m.pax_headers.items())}
    print(m.type.decode(), oct(m.mode), m.uid, m.gid, m.mtime, m.name, m.linkname, pax)
"#,
        )
        .arg(blob);
    run(c).ok().stdout()
}

/// The blob of the last layer of the image tagged `tag` in layout `dir`.
fn top_layer(dir: &Path, tag: &str) -> PathBuf {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let d = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no tag {tag} in {index}"));
    let blob = |d: &serde_json::Value| {
        dir.join("blobs/sha256")
            .join(d["digest"].as_str().unwrap().trim_start_matches("sha256:"))
    };
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(blob(d)).unwrap()).unwrap();
    blob(m["layers"].as_array().unwrap().last().unwrap())
}

/// cap_net_bind_service=ep, as a v2 value in hex.
const NBS_V2: &str = "0100000200040000000000000000000000000000";

/// The core promise, checked by umoci + getcap, skopeo, and fcap's own reader: a
/// grant through a symlinked directory writes one layer holding the real path and
/// every name of the hard-linked file, each with the raw v2 record, nothing else;
/// the other tags of the layout are untouched; a second run is byte-identical.
#[test]
fn grant_into_a_layout_writes_one_layer_that_umoci_and_skopeo_accept() {
    let lab = Lab::new(&["umoci", "skopeo", "getcap", "python3"]);
    probe_image(&lab);
    let before = std::fs::read(lab.p("oci/index.json")).unwrap();
    let r = lab.fcap(&[
        "grant",
        "cap_net_bind_service",
        "/bin/probe",
        "--image",
        "oci:base",
        "--output",
        "oci:capped",
    ]);
    r.ok();
    let out = r.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "/bin/probe -> /usr/bin/probe: cap_net_bind_service=ep (was none)",
        "{}",
        r.stdout()
    );
    assert!(
        lines[1].starts_with("wrote oci as \"capped\": one new layer (2 entries"),
        "{}",
        r.stdout()
    );
    assert_eq!(
        unpacked_caps(&lab, "oci:capped"),
        "/usr/bin/probe cap_net_bind_service=ep\n/usr/bin/probe2 cap_net_bind_service=ep\n"
    );
    // The base tag is as it was, and still unpacks without capabilities.
    assert_eq!(unpacked_caps(&lab, "oci:base"), "");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lab.p("oci/index.json")).unwrap()).unwrap();
    let old: serde_json::Value = serde_json::from_slice(&before).unwrap();
    assert_eq!(index["manifests"][0], old["manifests"][0]);
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
    // The layer: the data entry and a link entry, both with the record, no
    // directories (a `usr/` entry could replace what lower layers have there).
    let mode = format!(
        "{:o}",
        std::fs::metadata("/bin/cat")
            .unwrap()
            .permissions()
            .mode_bits()
    );
    // The file's mtime and its other xattr records are carried over.
    let pax = format!(
        "{{'SCHILY.xattr.security.capability': '{NBS_V2}', 'SCHILY.xattr.user.origin': '{}'}}",
        "6c6162"
    );
    assert_eq!(
        layer_listing(&top_layer(&lab.p("oci"), "capped")),
        format!(
            "0 0o{mode} 0 0 1234567890 usr/bin/probe  {pax}\n1 0o{mode} 0 0 1234567890 usr/bin/probe2 usr/bin/probe {pax}\n"
        )
    );
    // skopeo reads it and copies it (re-reading every blob against its digest).
    let insp = lab.sh("skopeo inspect oci:oci:capped");
    let v: serde_json::Value = serde_json::from_str(&insp.stdout()).unwrap();
    assert_eq!(v["Layers"].as_array().unwrap().len(), 2, "{v}");
    lab.sh("skopeo copy -q oci:oci:capped oci:copy:capped");
    // fcap's reader agrees with umoci, and check against a manifest agrees too.
    let r = lab.fcap(&["read", "-r", "/", "--image", "oci:capped"]);
    r.ok().stdout_is(
        "/usr/bin/probe cap_net_bind_service=ep\n/usr/bin/probe2 cap_net_bind_service=ep\n",
    );
    std::fs::write(lab.p("m.caps"), r.stdout()).unwrap();
    lab.fcap(&["check", "m.caps", "--image", "oci:capped"]).ok();
    // The same command again: the same bytes (nothing from the clock or the pid).
    for out in ["again.tar", "again2.tar"] {
        lab.fcap(&[
            "grant",
            "cap_net_bind_service",
            "/bin/probe",
            "--image",
            "oci:base",
            "--output",
            out,
            "--format",
            "oci-archive",
            "--tag",
            "capped",
        ])
        .ok();
    }
    assert_eq!(
        std::fs::read(lab.p("again.tar")).unwrap(),
        std::fs::read(lab.p("again2.tar")).unwrap(),
        "two runs of the same command differ"
    );
    lab.sh("skopeo inspect oci-archive:again.tar:capped >/dev/null");
    // History: one entry naming the command, at SOURCE_DATE_EPOCH (else the base
    // image's own time); the config's other fields as they were.
    let mut c = fcap();
    c.args([
        "grant",
        "cap_net_bind_service",
        "/bin/probe",
        "--image",
        "oci:base",
        "--output",
        "oci:dated",
    ])
    .env("SOURCE_DATE_EPOCH", "1700000000")
    .current_dir(lab.d.path());
    run(c).ok();
    let cfg = lab.sh(
        r#"python3 -c '
import json
lay = "oci"
blob = lambda d: json.load(open(lay + "/blobs/sha256/" + d["digest"][7:]))
idx = json.load(open(lay + "/index.json"))["manifests"]
tag = lambda t: next(d for d in idx if d["annotations"]["org.opencontainers.image.ref.name"] == t)
old, new = blob(blob(tag("base"))["config"]), blob(blob(tag("dated"))["config"])
print(new["created"], new["history"][len(old["history"]):], len(new["rootfs"]["diff_ids"]) - len(old["rootfs"]["diff_ids"]))
for k in ("history", "rootfs", "created"):
    old.pop(k); new.pop(k)
print(old == new)
'"#,
    );
    assert_eq!(
        cfg.stdout(),
        "2023-11-14T22:13:20Z [{'comment': 'fcap', 'created': '2023-11-14T22:13:20Z', 'created_by': 'fcap grant cap_net_bind_service /bin/probe'}] 1\nTrue\n"
    );
    // A second grant of what the image now has writes no layer and says so.
    let r = lab.fcap(&[
        "grant",
        "cap_net_bind_service",
        "/usr/bin/probe2",
        "--image",
        "oci:capped",
        "--output",
        "same.tar",
        "--format",
        "oci-archive",
    ]);
    r.ok();
    assert!(
        r.stdout().starts_with("/usr/bin/probe2: cap_net_bind_service=ep (unchanged)\nwrote same.tar as \"capped\": nothing changed, so no layer was added"),
        "{}",
        r.stdout()
    );
}

trait ModeBits {
    fn mode_bits(&self) -> u32;
}

impl ModeBits for std::fs::Permissions {
    fn mode_bits(&self) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        self.mode() & 0o7777
    }
}

/// The capability sets (`CapPrm`, `CapEff`) and uid a probe printed from its own
/// `/proc/self/status`.
fn status_caps(status: &str) -> (String, String, String) {
    let field = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap_or_else(|| panic!("no {k} in:\n{status}"))
            .trim()
            .to_string()
    };
    let uid = field("Uid:").split_whitespace().next().unwrap().to_string();
    (field("CapPrm:"), field("CapEff:"), uid)
}

/// `oci:node`: the host's real node with its libraries, a `node` user (uid 1000)
/// and `USER node`, and no setcap inside; `oci:ep`: the probe with
/// `cap_sys_module=ep` (a capability no engine grants by default).
fn node_and_ep_images(lab: &Lab) {
    lab.sh(&format!(
        r#"{DYN}
umoci new --image oci:node
umoci unpack --image oci:node n
R=n/rootfs
dyn /usr/bin/node usr/bin/node $R
mkdir -p $R/etc $R/tmp
echo 'root:x:0:0:root:/root:/bin/sh' > $R/etc/passwd
echo 'node:x:1000:1000:node:/home/node:/bin/sh' >> $R/etc/passwd
printf 'root:x:0:\nnode:x:1000:\n' > $R/etc/group
umoci repack --image oci:node --history.created_by='COPY node' n
umoci config --image oci:node --config.user node --history.created_by='USER node'
umoci unpack --image oci:base e
setcap cap_sys_module=ep e/rootfs/usr/bin/probe
umoci repack --image oci:ep --history.created_by='RUN setcap cap_sys_module=ep probe' e
"#
    ));
}

const LISTEN_80: &str = "require('net').createServer().listen(80, () => { console.log('listening on 80'); process.exit(0) }).on('error', e => { console.log(e.code); process.exit(3) })";

/// What Docker, containerd and podman really give: each loads fcap's docker-save
/// output (Docker and podman through manifest.json, containerd through the OCI
/// index) and runs the probe as the configured user (1000), under both names of
/// the hard-linked file. Then the seed's story: node as USER node binds port 80 after
/// `fcap grant --image` and not before (Docker lowers the unprivileged port floor
/// to 0 in containers, so the test puts it back to 1024). And the reverse: an
/// entrypoint carrying `=ep` of a capability outside `--cap-drop ALL` fails to start
/// until `fcap revoke --image` removes it.
#[test]
fn docker_and_podman_run_what_fcap_wrote() {
    let lab = Lab::new(&["umoci", "setcap", "dockerd", "docker", "ctr", "podman"]);
    probe_image(&lab);
    node_and_ep_images(&lab);
    let grant = |caps: &str, path: &str, input: &str, out: &str, tag: &str| {
        lab.fcap(&[
            "grant",
            caps,
            path,
            "--image",
            input,
            "--output",
            out,
            "--format",
            "docker-archive",
            "--tag",
            tag,
        ])
        .ok();
    };
    grant(
        "cap_net_bind_service",
        "/usr/bin/probe2",
        "oci:base",
        "probe.tar",
        "probe:1",
    );
    grant(
        "cap_net_bind_service",
        "/usr/bin/node",
        "oci:node",
        "node-after.tar",
        "node:after",
    );
    // The same images without fcap's layer, as docker-save archives too.
    lab.fcap(&[
        "revoke",
        "all",
        "/usr/bin/node",
        "--image",
        "oci:node",
        "--output",
        "node-before.tar",
        "--format",
        "docker-archive",
        "--tag",
        "node:before",
    ])
    .ok();
    lab.fcap(&[
        "revoke",
        "all",
        "/usr/bin/plain",
        "--image",
        "oci:ep",
        "--output",
        "ep-before.tar",
        "--format",
        "docker-archive",
        "--tag",
        "ep:before",
    ])
    .ok();
    let r = lab.fcap(&[
        "revoke",
        "cap_sys_module",
        "/bin/probe",
        "--image",
        "oci:ep",
        "--output",
        "ep-after.tar",
        "--format",
        "docker-archive",
        "--tag",
        "ep:after",
    ]);
    r.ok();
    assert!(
        r.stdout()
            .starts_with("/bin/probe -> /usr/bin/probe: none (was cap_sys_module=ep)\n"),
        "{}",
        r.stdout()
    );

    // fcap's own prediction on the outputs, before any engine runs them.
    let verify = |img: &str| {
        lab.fcap(&[
            "verify",
            "--image",
            img,
            "/usr/bin/node",
            "--require",
            "net_bind_service",
        ])
    };
    verify("node-after.tar").ok();
    verify("node-before.tar").status(1);

    let d = Dockerd::start();
    for t in [
        "probe",
        "node-after",
        "node-before",
        "ep-before",
        "ep-after",
    ] {
        d.load(&lab.p(&format!("{t}.tar")));
    }
    let docker = |args: &[&str]| {
        let mut c = d.docker();
        c.args(["run", "--rm", "--network", "none"]).args(args);
        run(c)
    };
    for name in ["/usr/bin/probe", "/usr/bin/probe2"] {
        let r = docker(&["--entrypoint", name, "probe:1", "/proc/self/status"]);
        r.ok();
        let (prm, eff, uid) = status_caps(&r.stdout());
        assert_eq!(
            (prm.as_str(), eff.as_str(), uid.as_str()),
            ("0000000000000400", "0000000000000400", "1000"),
            "{name} under docker:\n{}",
            r.stdout()
        );
    }
    let node = |tag: &str| {
        docker(&[
            "--sysctl",
            "net.ipv4.ip_unprivileged_port_start=1024",
            "--entrypoint",
            "/usr/bin/node",
            tag,
            "-e",
            LISTEN_80,
        ])
    };
    let before = node("node:before");
    before.status(3);
    assert_eq!(before.stdout(), "EACCES\n");
    node("node:after").ok().stdout_is("listening on 80\n");
    let whoami = docker(&[
        "--entrypoint",
        "/usr/bin/node",
        "node:after",
        "-e",
        "console.log(process.getuid())",
    ]);
    whoami.ok().stdout_is("1000\n");
    let ep = |tag: &str| {
        docker(&[
            "--cap-drop",
            "ALL",
            "--user",
            "0",
            "--entrypoint",
            "/usr/bin/probe",
            tag,
            "/proc/self/status",
        ])
    };
    let failed = ep("ep:before");
    assert_ne!(
        failed.code(),
        0,
        "a =ep capability outside the bounding set must fail exec:\n{}",
        failed.stdout()
    );
    assert!(
        failed.stderr().contains("operation not permitted"),
        "{}",
        failed.stderr()
    );
    let (prm, _, _) = status_caps(&ep("ep:after").ok().stdout());
    assert_eq!(prm, "0000000000000000");
    // containerd's importer reads only the archive's OCI index (Docker's loader
    // only manifest.json): the same capabilities through that view, as the
    // image's user (ctr has no --user).
    let mut c = d.ctr("fcap");
    c.args(["images", "import"]).arg(lab.p("probe.tar"));
    run(c).ok();
    for (i, name) in ["/usr/bin/probe", "/usr/bin/probe2"].iter().enumerate() {
        let mut c = d.ctr("fcap");
        c.args([
            "run",
            "--rm",
            "docker.io/library/probe:1",
            &format!("c{i}"),
            name,
            "/proc/self/status",
        ]);
        let r = run(c);
        r.ok();
        let (prm, eff, uid) = status_caps(&r.stdout());
        assert_eq!(
            (prm.as_str(), eff.as_str(), uid.as_str()),
            ("0000000000000400", "0000000000000400", "1000"),
            "{name} under containerd:\n{}",
            r.stdout()
        );
    }
    drop(d);

    let p = Podman::new();
    let mut c = p.cmd();
    c.args(["load", "-i"]).arg(lab.p("probe.tar"));
    run(c).ok();
    for name in ["/usr/bin/probe", "/usr/bin/probe2"] {
        let mut c = p.cmd();
        c.args(["run", "--rm"]).args(Podman::RUN_LIMITS).args([
            "--entrypoint",
            name,
            "probe:1",
            "/proc/self/status",
        ]);
        let r = run(c);
        r.ok();
        let (prm, eff, uid) = status_caps(&r.stdout());
        assert_eq!(
            (prm.as_str(), eff.as_str(), uid.as_str()),
            ("0000000000000400", "0000000000000400", "1000"),
            "{name} under podman:\n{}",
            r.stdout()
        );
    }
}

/// Bad requests and a failing disk: exit 2, exactly one `fcap:` line naming the
/// path or the output and the cause, and no output at all (not even a temporary
/// file beside it).
#[test]
fn bad_targets_and_failing_outputs_write_nothing() {
    let lab = Lab::new(&["umoci", "unshare", "mount"]);
    probe_image(&lab);
    std::fs::create_dir(lab.p("out")).unwrap();
    let one_error = |r: &Run, has: &[&str]| {
        r.status(2);
        let err = r.stderr();
        assert_eq!(err.lines().count(), 1, "one line expected:\n{err}");
        assert!(err.starts_with("fcap: "), "{err}");
        for h in has {
            assert!(err.contains(h), "{h:?} missing from: {err}");
        }
        let left: Vec<_> = std::fs::read_dir(lab.p("out")).unwrap().collect();
        assert!(left.is_empty(), "output left behind: {left:?}");
    };
    let grant = |path: &str, extra: &[&str]| {
        let mut a = vec![
            "grant",
            "cap_net_raw",
            path,
            "--image",
            "oci:base",
            "--output",
            "out/x.tar",
            "--format",
            "docker-archive",
        ];
        a.extend_from_slice(extra);
        lab.fcap(&a)
    };
    one_error(
        &grant("/usr/bin/nope", &[]),
        &[
            "'/usr/bin/nope'",
            "No such file or directory in 'oci:base'",
            "'out/x.tar' was not written",
        ],
    );
    one_error(&grant("/etc/dir", &[]), &["'/etc/dir'", "is a directory"]);
    // One good path and one bad one: still nothing (an image gets all or none).
    let r = lab.fcap(&[
        "grant",
        "cap_net_raw",
        "/usr/bin/plain",
        "/usr/bin/nope",
        "--image",
        "oci:base",
        "--output",
        "out/x.tar",
    ]);
    r.status(2);
    assert_eq!(r.stderr().lines().count(), 1, "{}", r.stderr());
    assert!(std::fs::read_dir(lab.p("out")).unwrap().next().is_none());
    one_error(
        &lab.fcap(&[
            "grant",
            "cap_net_raw",
            "/usr/bin/plain",
            "--image",
            "nothere",
            "--output",
            "out/x.tar",
        ]),
        &["'nothere'", "No such file or directory"],
    );
    one_error(
        &lab.fcap(&[
            "grant",
            "cap_net_raw",
            "/usr/bin/plain",
            "--image",
            "oci:base",
        ]),
        &["needs --output"],
    );
    std::fs::write(lab.p("taken.tar"), "mine").unwrap();
    one_error(
        &lab.fcap(&[
            "grant",
            "cap_net_raw",
            "/usr/bin/plain",
            "--image",
            "oci:base",
            "--output",
            "taken.tar",
        ]),
        &["'taken.tar': already exists", "--force"],
    );
    assert_eq!(std::fs::read(lab.p("taken.tar")).unwrap(), b"mine");
    lab.sh("cp -r oci in && tar -C in -cf out/in.tar . && rm -r in");
    let before = std::fs::read(lab.p("out/in.tar")).unwrap();
    let r = lab.fcap(&[
        "grant",
        "cap_net_raw",
        "/usr/bin/plain",
        "--image",
        "out/in.tar:base",
        "--output",
        "out/in.tar",
        "--force",
    ]);
    r.status(2).stderr_has("the output is the input");
    assert_eq!(std::fs::read(lab.p("out/in.tar")).unwrap(), before);
    std::fs::remove_file(lab.p("out/in.tar")).unwrap();
    // A reader error (a layer blob whose bytes no longer match its digest) is the
    // same one line, naming the layer.
    lab.sh(
        "cp -r oci bad && for b in bad/blobs/sha256/*; do \
           if gzip -t \"$b\" 2>/dev/null; then printf 'x' | dd of=\"$b\" bs=1 seek=100 conv=notrunc 2>/dev/null; fi; \
         done",
    );
    one_error(
        &lab.fcap(&[
            "grant",
            "cap_net_raw",
            "/usr/bin/plain",
            "--image",
            "bad:base",
            "--output",
            "out/x.tar",
        ]),
        &["'bad:base': layer sha256:"],
    );
    // A read-only and a full filesystem, mounted in a private mount namespace.
    for (opts, cause) in [
        ("ro,size=1m", "Read-only file system"),
        ("size=64k", "No space left on device"),
    ] {
        let script = format!(
            "mount -t tmpfs -o {opts} none out && {} grant cap_net_raw /usr/bin/plain --image oci:base --output out/x.tar; echo \"rc=$?\" >&2; ls -A out >&2",
            env!("CARGO_BIN_EXE_fcap")
        );
        let mut c = Command::new("unshare");
        c.args(["-m", "bash", "-c", &script])
            .current_dir(lab.d.path());
        let r = run(c);
        let err = r.stderr();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(
            lines.len(),
            2,
            "one error, the status, and an empty directory:\n{err}"
        );
        assert!(
            lines[0].starts_with("fcap: ") && lines[0].contains(cause),
            "{err}"
        );
        assert_eq!(lines[1], "rc=2", "{err}");
    }
}

/// Hardening an image with copies of real privileged programs: `--prune` takes
/// every capability the manifest does not list, `--strip-setid` clears every
/// setuid/setgid bit but the kept ones; umoci's unpack (getcap, find -perm) shows
/// exactly what is left, and `fcap read --image` and `fcap check --image` of the
/// output agree with it.
#[test]
fn apply_prune_and_strip_setid_leave_exactly_the_allowed() {
    let lab = Lab::new(&["umoci", "setcap", "getcap", "find"]);
    lab.sh(r#"
umoci init --layout oci
umoci new --image oci:base
umoci unpack --image oci:base b
R=b/rootfs
mkdir -p $R/usr/bin $R/usr/sbin
cp /bin/ping $R/usr/bin/ping && setcap cap_net_raw=ep $R/usr/bin/ping
cp /bin/true $R/usr/sbin/tool && setcap cap_sys_admin,cap_net_admin=ep $R/usr/sbin/tool
ln $R/usr/sbin/tool $R/usr/sbin/tool-link
cp /bin/su $R/usr/bin/su && chmod 4755 $R/usr/bin/su
cp /bin/true $R/usr/bin/sgid && chmod 2711 $R/usr/bin/sgid
cp /bin/true $R/usr/bin/both && chmod 6755 $R/usr/bin/both
umoci repack --image oci:base b
echo '/usr/bin/ping cap_net_raw=ep' > allow.caps
"#);
    let r = lab.fcap(&[
        "apply",
        "allow.caps",
        "--image",
        "oci:base",
        "--prune",
        "--strip-setid",
        "--keep-setid",
        "/usr/bin/su",
        "--output",
        "oci:hard",
    ]);
    r.ok();
    let out = r.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "unchanged /usr/bin/ping cap_net_raw=ep",
            "changed /usr/sbin/tool none (was cap_net_admin,cap_sys_admin=ep; pruned: not in the manifests)",
            "changed /usr/bin/both mode 0755 (was 6755; setuid and setgid cleared)",
            "changed /usr/bin/sgid mode 0711 (was 2711; setgid cleared)",
        ],
        "{out}"
    );
    assert!(
        lines[4].starts_with("wrote oci as \"hard\": one new layer (4 entries"),
        "{out}"
    );
    assert_eq!(
        unpacked_caps(&lab, "oci:hard"),
        "/usr/bin/ping cap_net_raw=ep\n"
    );
    lab.sh("umoci unpack --image oci:hard h >/dev/null");
    let setid = lab.sh("cd h/rootfs && find . -type f -perm /6000 -printf '%m %p\\n' | sort");
    assert_eq!(setid.stdout(), "4755 ./usr/bin/su\n");
    // Both names of the pruned file lost it, and the modes of the others are kept.
    let modes =
        lab.sh("cd h/rootfs && stat -c '%a %h %n' usr/sbin/tool usr/sbin/tool-link usr/bin/ping");
    assert_eq!(
        modes.stdout(),
        "755 2 usr/sbin/tool\n755 2 usr/sbin/tool-link\n755 1 usr/bin/ping\n"
    );
    let read = lab.fcap(&["read", "-r", "/", "--image", "oci:hard"]);
    read.ok().stdout_is("/usr/bin/ping cap_net_raw=ep\n");
    lab.fcap(&["check", "allow.caps", "--image", "oci:hard"])
        .ok();
    // The base still fails the same check: /usr/sbin/tool is capped there.
    lab.fcap(&["check", "allow.caps", "--image", "oci:base", "--root", "/"])
        .status(1);
}

/// Copy-ups from two zstd layers (skopeo): the files come out whole. Each layer is
/// read with the same zstd context, and the first is left mid-frame (a large file
/// follows the one copied up), so a context not reset between layers would fail
/// or corrupt the second.
#[test]
fn copy_ups_from_two_zstd_layers() {
    let lab = Lab::new(&["umoci", "skopeo", "zstd", "tar", "gzip", "head"]);
    lab.sh("umoci init --layout oci && umoci new --image oci:base && \
         mkdir -p one two && echo first >one/a && head -c 4000000 /dev/urandom >one/z && \
         echo second >two/b && \
         umoci insert --image oci:base one /opt && umoci insert --image oci:base two /srv && \
         skopeo copy -q --dest-compress-format zstd oci:oci:base oci:z:base");
    let r = lab.fcap(&[
        "grant",
        "cap_net_raw",
        "/opt/a",
        "/srv/b",
        "--image",
        "z:base",
        "--output",
        "z:capped",
    ]);
    r.ok();
    let top = top_layer(&lab.p("z"), "capped");
    let got = lab.sh(&format!("tar -xzOf {} opt/a srv/b", top.display()));
    assert_eq!(got.stdout(), "first\nsecond\n");
}

/// A legacy `docker save` (skopeo's docker-archive: layers named by diff_id and
/// symlinked) as input: the output is a docker save that skopeo reads again, whose
/// unpacked tree has the capability.
#[test]
fn a_legacy_docker_save_input_gives_a_loadable_docker_save() {
    let lab = Lab::new(&["umoci", "skopeo", "getcap"]);
    probe_image(&lab);
    lab.sh("skopeo copy -q oci:oci:base docker-archive:legacy.tar:probe:1");
    let r = lab.fcap(&[
        "set",
        "cap_net_raw=p",
        "/usr/bin/probe",
        "--image",
        "legacy.tar",
        "--output",
        "new.tar",
    ]);
    r.ok();
    assert!(
        r.stdout()
            .contains("wrote new.tar as \"docker.io/library/probe:1\": one new layer (2 entries"),
        "{}",
        r.stdout()
    );
    lab.sh("skopeo copy -q docker-archive:new.tar oci:back:t");
    assert_eq!(
        unpacked_caps(&lab, "back:t"),
        "/usr/bin/probe cap_net_raw=p\n/usr/bin/probe2 cap_net_raw=p\n"
    );
    let m = lab.sh("tar xOf new.tar manifest.json");
    let v: serde_json::Value = serde_json::from_str(&m.stdout()).unwrap();
    assert_eq!(
        v[0]["RepoTags"],
        serde_json::json!(["docker.io/library/probe:1"]),
        "{v}"
    );
    assert_eq!(v[0]["Layers"].as_array().unwrap().len(), 2, "{v}");
}

/// `--all-platforms` on a nested index (amd64, arm64/v8, and an attestation that
/// names a manifest by digest): one new layer per platform behind a new index that
/// carries the tag, the attestation left out with a note; skopeo picks each
/// platform out of the output and umoci + getcap see its capability.
#[test]
fn all_platforms_rewrites_each_platform_and_drops_attestations() {
    let lab = Lab::new(&["umoci", "skopeo", "setcap", "getcap", "python3"]);
    lab.sh(
        r#"
umoci init --layout oci
umoci new --image oci:base
umoci unpack --image oci:base b
mkdir -p b/rootfs/usr/bin
cp /bin/true b/rootfs/usr/bin/ping
umoci repack --image oci:amd b
cp /bin/true b/rootfs/usr/bin/armonly
umoci repack --image oci:arm b
python3 - <<'PY'
import hashlib, json
lay = "oci"
idx = json.load(open(f"{lay}/index.json"))
def desc(tag, platform):
    d = next(m for m in idx["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == tag)
    return {"mediaType": d["mediaType"], "digest": d["digest"], "size": d["size"], "platform": platform}
att = desc("amd", {"os": "unknown", "architecture": "unknown"})
att["annotations"] = {"vnd.docker.reference.type": "attestation-manifest",
                      "vnd.docker.reference.digest": att["digest"]}
nested = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [desc("amd", {"os": "linux", "architecture": "amd64"}),
                  desc("arm", {"os": "linux", "architecture": "arm64", "variant": "v8"}), att]}).encode()
h = hashlib.sha256(nested).hexdigest()
open(f"{lay}/blobs/sha256/{h}", "wb").write(nested)
idx["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json",
    "digest": "sha256:" + h, "size": len(nested),
    "annotations": {"org.opencontainers.image.ref.name": "multi"}})
json.dump(idx, open(f"{lay}/index.json", "w"))
PY
"#,
    );
    let r = lab.fcap(&[
        "grant",
        "cap_net_bind_service",
        "/usr/bin/ping",
        "--image",
        "oci:multi",
        "--all-platforms",
        "--output",
        "out:multi",
    ]);
    r.ok();
    assert_eq!(
        r.stderr(),
        "fcap: note: 1 attestation manifest of 'oci:multi' left out of the output: it describes the input's manifests by digest, and the new ones differ\n"
    );
    let out = r.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "linux/amd64:",
            "/usr/bin/ping: cap_net_bind_service=ep (was none)",
            "linux/arm64/v8:",
            "/usr/bin/ping: cap_net_bind_service=ep (was none)",
        ],
        "{out}"
    );
    assert!(
        lines[4].starts_with("wrote out as \"multi\": a new layer on 2 of 2 platforms"),
        "{out}"
    );
    let index = lab.sh(r#"python3 -c '
import json
lay = "out"
idx = json.load(open(lay + "/index.json"))["manifests"]
blob = lambda d: json.load(open(lay + "/blobs/sha256/" + d["digest"][7:]))
print(len(idx), idx[0]["mediaType"], idx[0]["annotations"])
for m in blob(idx[0])["manifests"]:
    print(m["platform"], len(blob(m)["layers"]), m.get("annotations"))
'"#);
    assert_eq!(
        index.stdout(),
        "1 application/vnd.oci.image.index.v1+json {'org.opencontainers.image.ref.name': 'multi'}\n\
         {'architecture': 'amd64', 'os': 'linux'} 2 None\n\
         {'architecture': 'arm64', 'os': 'linux', 'variant': 'v8'} 2 None\n"
    );
    lab.sh(
        "skopeo copy -q --override-arch amd64 oci:out:multi oci:one:amd && \
         skopeo copy -q --override-arch arm64 --override-variant v8 oci:out:multi oci:one:arm",
    );
    assert_eq!(
        unpacked_caps(&lab, "one:amd"),
        "/usr/bin/ping cap_net_bind_service=ep\n"
    );
    assert_eq!(
        unpacked_caps(&lab, "one:arm"),
        "/usr/bin/ping cap_net_bind_service=ep\n"
    );
    // One platform only: --platform, the output is that platform's image.
    let r = lab.fcap(&[
        "revoke",
        "all",
        "/usr/bin/armonly",
        "--image",
        "oci:multi",
        "--platform",
        "linux/arm64",
        "--output",
        "arm.tar",
        "--format",
        "oci-archive",
    ]);
    r.ok();
    assert!(
        r.stdout().starts_with(
            "/usr/bin/armonly: none (unchanged)\nwrote arm.tar as \"multi\": nothing changed"
        ),
        "{}",
        r.stdout()
    );
}

/// The records and flags are the host's: `--json` gives the same object per file
/// (path, target, before, after, changed, warnings), `--dry-run` writes nothing,
/// `--rootid` warns that a v3 value grants nothing outside a matching user
/// namespace; a value only bsdtar's LIBARCHIVE record carried is replaced by a
/// SCHILY record (the only one the runtimes apply), and no LIBARCHIVE record is
/// written.
#[test]
fn json_dry_run_rootid_and_libarchive_records() {
    let lab = Lab::new(&["umoci", "bsdtar", "setcap", "getcap", "python3"]);
    probe_image(&lab);
    lab.sh(
        "mkdir -p la/usr/bin && cp /bin/true la/usr/bin/la && setcap cap_kill=ep la/usr/bin/la && \
         bsdtar --xattrs --format pax --options xattrheader=LIBARCHIVE -C la -cf la.tar usr && \
         umoci raw add-layer --image oci:base --tag la la.tar",
    );
    let r = lab.fcap(&[
        "grant",
        "cap_net_raw",
        "/bin/probe",
        "/usr/bin/la",
        "--image",
        "oci:la",
        "--json",
        "--dry-run",
    ]);
    r.ok();
    let v = r.json_lines();
    assert_eq!(v.len(), 2, "{}", r.stdout());
    assert_eq!(
        v[0],
        serde_json::json!({"path": "/bin/probe", "target": "/usr/bin/probe", "before": null,
            "after": "cap_net_raw=ep", "changed": true, "warnings": []})
    );
    assert_eq!(v[1]["before"], "cap_kill=ep");
    assert_eq!(v[1]["after"], "cap_kill,cap_net_raw=ep");
    assert!(!lab.p("oci/index.json.new").exists());
    let r = lab.fcap(&[
        "grant",
        "cap_net_raw",
        "/usr/bin/probe",
        "--image",
        "oci:la",
        "--rootid",
        "1000",
        "--output",
        "oci:v3",
    ]);
    r.ok();
    assert!(
        r.stderr()
            .contains("--rootid 1000 writes a v3 value: in a container it grants nothing unless"),
        "{}",
        r.stderr()
    );
    // (umoci, like moby and containerd, ignores the LIBARCHIVE-only value of la.)
    assert_eq!(
        unpacked_caps(&lab, "oci:v3"),
        "/usr/bin/probe cap_net_raw=ep [rootid=1000]\n/usr/bin/probe2 cap_net_raw=ep [rootid=1000]\n"
    );
    // Granting what the LIBARCHIVE record already says is still a change: the
    // copy-up carries it where Docker and containerd read it.
    let r = lab.fcap(&[
        "grant",
        "cap_kill",
        "/usr/bin/la",
        "--image",
        "oci:la",
        "--output",
        "oci:schily",
    ]);
    r.ok();
    assert!(
        r.stdout()
            .starts_with("/usr/bin/la: cap_kill=ep (was cap_kill=ep)\n"),
        "{}",
        r.stdout()
    );
    let listing = layer_listing(&top_layer(&lab.p("oci"), "schily"));
    assert!(
        listing.contains("'SCHILY.xattr.security.capability'"),
        "{listing}"
    );
    assert!(!listing.contains("LIBARCHIVE"), "{listing}");
    let r = lab.fcap(&["read", "-r", "/usr/bin", "--image", "oci:schily"]);
    r.ok().stdout_is("/usr/bin/la cap_kill=ep\n");
    assert_eq!(r.stderr(), "", "no LIBARCHIVE warning is left");
    assert_eq!(
        unpacked_caps(&lab, "oci:schily"),
        "/usr/bin/la cap_kill=ep\n"
    );
}

/// No privilege needed: `nobody` (no capabilities at all) reads an image made
/// world-readable (umoci writes index.json 0600)
/// and writes the new one where it may write, and umoci (as root) sees the
/// capability in it.
#[test]
fn nobody_writes_a_capability_into_an_image() {
    let lab = Lab::new(&["umoci", "skopeo", "getcap", "setpriv"]);
    probe_image(&lab);
    lab.sh("mkdir -m 1777 pub && chmod -R a+rX oci");
    let mut c = as_nobody(env!("CARGO_BIN_EXE_fcap"));
    c.args([
        "grant",
        "cap_net_raw",
        "/usr/bin/probe",
        "--image",
        "oci:base",
        "--output",
    ])
    .arg(lab.p("pub/out.tar"))
    .args(["--format", "oci-archive", "--tag", "t"])
    .current_dir(lab.d.path());
    let r = run(c);
    r.ok();
    lab.sh("umoci init --layout back && skopeo copy -q oci-archive:pub/out.tar:t oci:back:t");
    assert_eq!(
        unpacked_caps(&lab, "back:t"),
        "/usr/bin/probe cap_net_raw=ep\n/usr/bin/probe2 cap_net_raw=ep\n"
    );
}

/// A file whose capability record is on its hard-link entry only (the data entry
/// has none, as a hand-made or bsdtar-style layer may have it): `--prune` finds it
/// through the link, and its data, which the scan did not copy aside, is read again
/// from its layer; both names lose the capability.
#[test]
fn prune_reads_a_data_entry_the_scan_did_not_copy() {
    let lab = Lab::new(&["umoci", "getcap", "python3"]);
    probe_image(&lab);
    lab.sh(r#"python3 - <<'PY'
import io, struct, tarfile
cap = struct.pack("<5I", 0x02000001, 1 << 13, 0, 0, 0).decode("utf-8", "surrogateescape")
data = open("/bin/true", "rb").read()
with tarfile.open("hl.tar", "w", format=tarfile.PAX_FORMAT) as t:
    f = tarfile.TarInfo("opt/tool"); f.size = len(data); f.mode = 0o755
    t.addfile(f, io.BytesIO(data))
    l = tarfile.TarInfo("opt/tool-link"); l.type = tarfile.LNKTYPE; l.linkname = "opt/tool"
    l.pax_headers = {"SCHILY.xattr.security.capability": cap}
    t.addfile(l)
PY
umoci raw add-layer --image oci:base --tag hl hl.tar
echo '' > none.caps"#);
    // (umoci skips a link entry's metadata, so it shows no capability here; Docker
    // and containerd apply the link's record to the inode, as fcap reads it.)
    lab.fcap(&["read", "-r", "/opt", "--image", "oci:hl"])
        .ok()
        .stdout_is("/opt/tool cap_net_raw=ep\n/opt/tool-link cap_net_raw=ep\n");
    let r = lab.fcap(&[
        "apply",
        "none.caps",
        "--image",
        "oci:hl",
        "--prune",
        "--output",
        "oci:pruned",
    ]);
    r.ok();
    assert!(
        r.stdout().contains("pruned: not in the manifests"),
        "{}",
        r.stdout()
    );
    assert_eq!(unpacked_caps(&lab, "oci:pruned"), "");
    lab.fcap(&["read", "-r", "/opt", "--image", "oci:pruned"])
        .ok()
        .stdout_is("");
    lab.sh("umoci unpack --image oci:pruned p >/dev/null && cmp p/rootfs/opt/tool /bin/true && test p/rootfs/opt/tool -ef p/rootfs/opt/tool-link");
}
