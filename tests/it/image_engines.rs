//! `fcap read --image` against what the default runtimes really put on disk: a
//! private dockerd 20.10 (overlay2) and the containerd 1.6 it runs (overlayfs
//! snapshotter), both started by the test (engines.rs), unpacking images whose layers
//! the test writes byte by byte: the tar header rules of Go's reader, hard links,
//! values the kernel refuses, and entries below a lower layer's symlink.
//!
//! The oracle is `getcap -r` on the image's root filesystem as each engine made it:
//! Docker's layer directories mounted as one read-only overlay (lowerdir = the
//! image's layers, top first) and containerd's `ctr images mount`, each in a private
//! mount namespace (`unshare -m`). An image an engine cannot unpack is that engine's
//! error, and fcap must refuse it too. Every case also spells out what it expects,
//! so engines and fcap going wrong the same way cannot hide it.

use crate::engines::Dockerd;
use crate::util::*;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A layer tar written header by header, so a test can put in it what no tool
/// writes (two headers naming one entry, a global header, a link entry without the
/// record).
#[derive(Default, Clone)]
struct Tar(Vec<u8>);

/// One entry's header fields.
#[derive(Clone)]
struct Ent<'a> {
    name: &'a [u8],
    flag: u8,
    data: &'a [u8],
    link: &'a [u8],
    mode: u32,
    uid: u32,
}

impl<'a> Ent<'a> {
    fn new(name: &'a str, flag: u8) -> Ent<'a> {
        Ent {
            name: name.as_bytes(),
            flag,
            data: b"",
            link: b"",
            mode: 0o755,
            uid: 0,
        }
    }
}

/// A capability value: v2, these bits permitted, effective, and `flags` more bits
/// in the magic word.
fn v2(bits: &[u32], flags: u32) -> Vec<u8> {
    let perm: u64 = bits.iter().map(|b| 1u64 << b).sum();
    let mut v = (0x0200_0001u32 | flags).to_le_bytes().to_vec();
    v.extend((perm as u32).to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.extend(((perm >> 32) as u32).to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v
}

/// A v1 value (12 bytes), which the kernel still reads but no longer stores.
fn v1(bits: &[u32]) -> Vec<u8> {
    let perm: u32 = bits.iter().map(|b| 1u32 << b).sum();
    [0x0100_0001u32, perm, 0]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect()
}

const CAP: &str = "SCHILY.xattr.security.capability";

impl Tar {
    fn header(&mut self, e: &Ent) {
        let mut b = [0u8; 512];
        b[..e.name.len()].copy_from_slice(e.name);
        b[100..108].copy_from_slice(format!("{:07o}\0", e.mode).as_bytes());
        b[108..116].copy_from_slice(format!("{:07o}\0", e.uid).as_bytes());
        b[116..124].copy_from_slice(format!("{:07o}\0", e.uid).as_bytes());
        b[124..136].copy_from_slice(format!("{:011o}\0", e.data.len()).as_bytes());
        b[136..148].copy_from_slice(b"00000000000\0");
        b[156] = e.flag;
        b[157..157 + e.link.len()].copy_from_slice(e.link);
        b[257..265].copy_from_slice(b"ustar\x0000");
        b[148..156].copy_from_slice(b"        ");
        let sum: u32 = b.iter().map(|&c| u32::from(c)).sum();
        b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        self.0.extend(b);
        self.0.extend(e.data);
        self.0
            .resize(self.0.len() + (512 - e.data.len() % 512) % 512, 0);
    }

    fn entry(mut self, e: Ent) -> Tar {
        self.header(&e);
        self
    }

    /// A pax header (`x`, or `g` global) with these records.
    fn pax(mut self, flag: u8, records: &[(&str, &[u8])]) -> Tar {
        let mut data = Vec::new();
        for (k, v) in records {
            let body = 1 + k.len() + 1 + v.len() + 1;
            let mut len = body + 1;
            while format!("{len}").len() + body != len {
                len = format!("{len}").len() + body;
            }
            data.extend(format!("{len} {k}=").as_bytes());
            data.extend(*v);
            data.push(b'\n');
        }
        // Go's reader hands a global header to the applier as an entry, and
        // Docker's tar-split refuses two entries of one name: each gets its own.
        let name = if flag == b'g' {
            format!("pax_global_header.{}", self.0.len())
        } else {
            "PaxHeaders/x".to_string()
        };
        self.header(&Ent {
            data: &data,
            ..Ent::new(&name, flag)
        });
        self
    }

    fn dir(self, name: &str) -> Tar {
        self.entry(Ent::new(name, b'5'))
    }

    /// A regular file, with this capability record if any.
    fn file(self, name: &str, cap: Option<&[u8]>) -> Tar {
        let t = match cap {
            Some(v) => self.pax(b'x', &[(CAP, v)]),
            None => self,
        };
        t.entry(Ent {
            data: b"\x7fELF",
            ..Ent::new(name, b'0')
        })
    }

    /// A hard link, with this capability record if any, and this mode and owner.
    fn link(self, name: &str, to: &str, cap: Option<&[u8]>, mode: u32, uid: u32) -> Tar {
        let t = match cap {
            Some(v) => self.pax(b'x', &[(CAP, v)]),
            None => self,
        };
        t.entry(Ent {
            link: to.as_bytes(),
            mode,
            uid,
            ..Ent::new(name, b'1')
        })
    }

    fn symlink(self, name: &str, to: &str) -> Tar {
        self.entry(Ent {
            link: to.as_bytes(),
            ..Ent::new(name, b'2')
        })
    }

    fn done(mut self) -> Vec<u8> {
        self.0.extend([0u8; 1024]);
        self.0
    }
}

/// A legacy `docker save` archive of these layers, tagged `NAME:1`: what both
/// `docker load` and `ctr images import` read.
fn docker_archive(dir: &Path, name: &str, layers: &[Vec<u8>]) -> PathBuf {
    let hex = |b: &[u8]| -> String {
        Sha256::digest(b)
            .iter()
            .map(|c| format!("{c:02x}"))
            .collect()
    };
    let diffs: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", hex(l)))
        .collect();
    let config = json!({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["/x"]},
        "rootfs": {"type": "layers", "diff_ids": diffs},
        "history": layers.iter().enumerate().map(|(i, _)| json!({"created_by": format!("layer {i}")})).collect::<Vec<_>>(),
    })
    .to_string();
    let config_name = format!("{}.json", hex(config.as_bytes()));
    let names: Vec<String> = layers.iter().map(|l| format!("{}.tar", hex(l))).collect();
    let manifest =
        json!([{"Config": config_name, "RepoTags": [format!("{name}:1")], "Layers": names}])
            .to_string();
    let mut t = Tar::default();
    let files = [
        (&config_name, config.as_bytes()),
        (&"manifest.json".to_string(), manifest.as_bytes()),
    ];
    for (n, d) in files
        .into_iter()
        .chain(names.iter().zip(layers.iter().map(Vec::as_slice)))
    {
        t = t.entry(Ent {
            data: d,
            mode: 0o644,
            ..Ent::new(n, b'0')
        });
    }
    let path = dir.join(format!("{name}.tar"));
    std::fs::write(&path, t.done()).unwrap();
    path
}

/// `getcap -r` output of a tree mounted at `root`, as image-absolute lines sorted
/// by path bytes (the way fcap sorts).
fn getcap_lines(out: &str, root: &str) -> String {
    let mut lines: Vec<(String, String)> = out
        .lines()
        .map(|l| {
            let rest = l
                .strip_prefix(root)
                .unwrap_or_else(|| panic!("getcap line outside {root}: {l:?}"));
            let (p, caps) = rest.split_once(' ').unwrap_or((rest, ""));
            (p.to_string(), caps.to_string())
        })
        .collect();
    lines.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    lines.iter().map(|(p, c)| format!("{p} {c}\n")).collect()
}

/// Run a shell script in a private mount namespace; its stdout, or its stderr as
/// the error.
fn in_private_mounts(script: &str) -> Result<String, String> {
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-euc", script]);
    let r = run(c);
    if r.code() == 0 {
        Ok(r.stdout())
    } else {
        Err(r.stderr())
    }
}

/// What an engine made of an image: its capabilities, or why it could not unpack it.
type View = Result<String, String>;

/// The image as Docker (overlay2) unpacked it: its layer directories mounted as one
/// read-only overlay, top layer first.
fn docker_view(d: &Dockerd, archive: &Path, name: &str, scratch: &Path) -> View {
    let mut c = d.docker();
    c.args(["load", "-q", "-i"]).arg(archive);
    let r = run(c);
    if r.code() != 0 {
        return Err(r.stderr());
    }
    let inspect = |field: &str| {
        let mut c = d.docker();
        c.args([
            "image",
            "inspect",
            "-f",
            &format!("{{{{.GraphDriver.Data.{field}}}}}"),
        ])
        .arg(format!("{name}:1"));
        run(c).ok().stdout().trim().to_string()
    };
    let (upper, lower) = (inspect("UpperDir"), inspect("LowerDir"));
    let root = scratch.join(format!("docker-{name}"));
    std::fs::create_dir_all(&root).unwrap();
    let root = root.to_str().unwrap();
    let lowers = if lower == "<no value>" {
        upper.clone()
    } else {
        format!("{upper}:{lower}")
    };
    let mount = if lower == "<no value>" {
        format!("mount --bind {upper} {root}")
    } else {
        format!("mount -t overlay overlay -o lowerdir={lowers} {root}")
    };
    let out = in_private_mounts(&format!("{mount} && getcap -r {root}"))
        .unwrap_or_else(|e| panic!("mounting docker's layers of {name}: {e}"));
    Ok(getcap_lines(&out, root))
}

/// The image as containerd (overlayfs snapshotter) unpacked it: `ctr images import`,
/// then `ctr images mount`.
fn containerd_view(d: &Dockerd, archive: &Path, name: &str, scratch: &Path) -> View {
    let mut c = d.ctr("fcap");
    c.args(["images", "import", "--snapshotter", "overlayfs"])
        .arg(archive);
    let r = run(c);
    if r.code() != 0 {
        return Err(r.stderr());
    }
    let root = scratch.join(format!("containerd-{name}"));
    std::fs::create_dir_all(&root).unwrap();
    let root = root.to_str().unwrap();
    let ctr = d.ctr("fcap");
    let ctr: Vec<String> = std::iter::once(ctr.get_program())
        .chain(ctr.get_args())
        .map(|a| a.to_str().unwrap().to_string())
        .collect();
    let out = in_private_mounts(&format!(
        "{} images mount --snapshotter overlayfs docker.io/library/{name}:1 {root} >/dev/null && getcap -r {root}",
        ctr.join(" ")
    ))
    .unwrap_or_else(|e| panic!("mounting containerd's snapshot of {name}: {e}"));
    Ok(getcap_lines(&out, root))
}

/// fcap on the archive: its listing, or its one error line.
fn fcap_view(archive: &Path) -> (View, String) {
    let r = fcap_run([os("read"), os("--image"), archive.as_os_str()]);
    let warnings: String = r
        .stderr()
        .lines()
        .filter(|l| l.starts_with("fcap: warning: "))
        .map(|l| format!("{l}\n"))
        .collect();
    if r.code() == 0 {
        (Ok(r.stdout()), warnings)
    } else {
        assert_eq!(r.code(), 2, "{}", r.stderr());
        r.stdout_is("");
        (Err(r.stderr()), warnings)
    }
}

/// One crafted image and what every reader must make of it.
struct Case {
    name: &'static str,
    layers: Vec<Vec<u8>>,
    /// The capabilities listed, or a part of fcap's error when no engine can
    /// unpack the image.
    want: Result<&'static str, &'static str>,
    /// Paths fcap warns about (a runtime outside these two differs there).
    warned: &'static [&'static str],
}

/// Both engines and fcap agree with `case.want`.
#[track_caller]
fn check_case(d: &Dockerd, scratch: &Path, case: &Case) {
    let archive = docker_archive(scratch, case.name, &case.layers);
    let docker = docker_view(d, &archive, case.name, scratch);
    let containerd = containerd_view(d, &archive, case.name, scratch);
    let (fcap, warnings) = fcap_view(&archive);
    let name = case.name;
    match case.want {
        Ok(want) => {
            assert_eq!(docker.as_deref(), Ok(want), "{name}: docker (overlay2)");
            assert_eq!(
                containerd.as_deref(),
                Ok(want),
                "{name}: containerd (overlayfs)"
            );
            assert_eq!(fcap.as_deref(), Ok(want), "{name}: fcap read --image");
        }
        Err(part) => {
            assert!(docker.is_err(), "{name}: docker unpacked it: {docker:?}");
            assert!(
                containerd.is_err(),
                "{name}: containerd unpacked it: {containerd:?}"
            );
            let e = fcap.expect_err(name);
            assert!(
                e.contains(part),
                "{name}: fcap's error {e:?} lacks {part:?}"
            );
        }
    }
    let mut warned: Vec<String> = warnings
        .lines()
        .map(|l| {
            let rest = l.strip_prefix("fcap: warning: ").unwrap();
            rest.split(':').next().unwrap().to_string()
        })
        .collect();
    warned.dedup();
    assert_eq!(
        warned, case.warned,
        "{name}: the files fcap warns about:\n{warnings}"
    );
}

/// The classes of issue 20, each an image of crafted layers, against one dockerd
/// and its containerd.
#[test]
fn crafted_layers_read_as_docker_and_containerd_unpack_them() {
    require_tool("getcap");
    require_tool("ctr");
    require_tool("unshare");
    let d = Dockerd::start();
    let scratch = tempdir();
    let s = scratch.path();
    let (raw, kill, chown) = (v2(&[13], 0), v2(&[5], 0), v2(&[0], 0));
    let cases = vec![
        // Go's header rules.
        Case {
            name: "headers",
            layers: vec![
                Tar::default()
                    // A global header changes no later entry.
                    .pax(b'g', &[("path", b"global"), ("uid", b"7"), (CAP, &raw)])
                    .file("g", None)
                    // An empty pax value keeps the header's own name.
                    .pax(b'x', &[("path", b""), (CAP, &kill)])
                    .entry(Ent {
                        data: b"x",
                        ..Ent::new("empty-path", b'0')
                    })
                    // A GNU long name wins over a pax path.
                    .pax(b'x', &[("path", b"from-pax"), (CAP, &chown)])
                    .entry(Ent {
                        data: b"from-long-name",
                        ..Ent::new("././@LongLink", b'L')
                    })
                    .entry(Ent::new("short", b'0'))
                    // GNU.sparse.name without a sparse version renames nothing.
                    .pax(b'x', &[("GNU.sparse.name", b"renamed"), (CAP, &raw)])
                    .entry(Ent::new("not-sparse", b'0'))
                    // A second 'x' header replaces the first.
                    .pax(b'x', &[(CAP, &raw)])
                    .pax(b'x', &[("uid", b"0")])
                    .entry(Ent::new("second-x", b'0'))
                    .done(),
            ],
            want: Ok(
                "/empty-path cap_kill=ep\n/from-long-name cap_chown=ep\n/not-sparse cap_net_raw=ep\n",
            ),
            warned: &[],
        },
        // Hard links: one inode, the last entry's value on every name.
        Case {
            name: "links",
            layers: vec![
                Tar::default()
                    .dir("gnu")
                    .file("gnu/a", Some(&raw))
                    .link("gnu/b", "gnu/a", None, 0o755, 0)
                    .dir("last")
                    .file("last/a", Some(&raw))
                    .link("last/b", "last/a", Some(&kill), 0o755, 0)
                    .link("last/c", "last/a", Some(&chown), 0o755, 0)
                    .dir("onlink")
                    .file("onlink/a", None)
                    .link("onlink/b", "onlink/a", Some(&kill), 0o755, 0)
                    .dir("both")
                    .file("both/a", Some(&raw))
                    .link("both/b", "both/a", Some(&raw), 0o755, 0)
                    .dir("owner")
                    .file("owner/a", Some(&raw))
                    .link("owner/b", "owner/a", Some(&raw), 0o700, 7)
                    .done(),
            ],
            want: Ok("/both/a cap_net_raw=ep\n/both/b cap_net_raw=ep\n\
                      /last/a cap_chown=ep\n/last/b cap_chown=ep\n/last/c cap_chown=ep\n\
                      /onlink/a cap_kill=ep\n/onlink/b cap_kill=ep\n\
                      /owner/a cap_net_raw=ep\n/owner/b cap_net_raw=ep\n"),
            warned: &[
                "/gnu/a",
                "/gnu/b",
                "/last/a",
                "/last/b",
                "/last/c",
                "/onlink/a",
                "/onlink/b",
            ],
        },
        // The misspelt record: no runtime applies it.
        Case {
            name: "misspelt",
            layers: vec![
                Tar::default()
                    .pax(b'x', &[("SCHILY.xattrs.security.capability", &raw)])
                    .entry(Ent::new("old", b'0'))
                    .file("new", Some(&kill))
                    .done(),
            ],
            want: Ok("/new cap_kill=ep\n"),
            warned: &["/old"],
        },
        // A lower symlink is not followed: lib becomes a directory.
        Case {
            name: "overlay",
            layers: vec![
                Tar::default()
                    .dir("usr")
                    .dir("usr/lib")
                    .file("usr/lib/old", Some(&raw))
                    .file("usr/lib/gone", Some(&chown))
                    .symlink("lib", "usr/lib")
                    .done(),
                Tar::default()
                    .file("lib/c", Some(&kill))
                    .file("lib/.wh.old", None)
                    .file("usr/lib/.wh.gone", None)
                    .done(),
            ],
            want: Ok("/lib/c cap_kill=ep\n/usr/lib/old cap_net_raw=ep\n"),
            warned: &["/lib"],
        },
        // What no runtime can unpack.
        Case {
            name: "v1",
            layers: vec![
                Tar::default()
                    .file("ok", Some(&kill))
                    .file("bad", Some(&v1(&[13])))
                    .done(),
            ],
            want: Err("/bad: a v1 security.capability value"),
            warned: &[],
        },
        Case {
            name: "flags",
            layers: vec![Tar::default().file("bad", Some(&v2(&[13], 0x10))).done()],
            want: Err("/bad: a security.capability value with flag bits 0x10"),
            warned: &[],
        },
        Case {
            name: "lowerlink",
            layers: vec![
                Tar::default().dir("a").file("a/t", Some(&raw)).done(),
                Tar::default()
                    .link("a/u", "a/t", Some(&raw), 0o755, 0)
                    .done(),
            ],
            want: Err("hard link /a/u names /a/t, which no earlier entry of this layer created"),
            warned: &[],
        },
        Case {
            name: "zeroblock",
            layers: vec![{
                let mut t = Tar::default().file("a", Some(&raw));
                t.0.extend([0u8; 512]);
                t.file("b", Some(&raw)).done()
            }],
            want: Err("a header after a zero block"),
            warned: &[],
        },
    ];
    // Layers as GNU tar and bsdtar write a hard-linked capped file: GNU tar puts the
    // record on the first entry only, bsdtar on both.
    let r = s.join("rootfs");
    std::fs::create_dir(&r).unwrap();
    cp(Path::new("/bin/true"), &r.join("ping"));
    setcap_on(&r.join("ping"), &["cap_net_raw=ep"]);
    std::fs::hard_link(r.join("ping"), r.join("ping-link")).unwrap();
    cp(Path::new("/bin/true"), &r.join("keep"));
    setcap_on(&r.join("keep"), &["cap_kill=ep"]);
    let layer_by = |tool: &str, args: &[&str]| {
        require_tool(tool);
        let mut c = Command::new(tool);
        c.args(args)
            .arg("-C")
            .arg(&r)
            .args(["-cf", "-", "keep", "ping", "ping-link"]);
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let gnu = layer_by("tar", &["--xattrs"]);
    let bsd = layer_by("bsdtar", &["--xattrs", "--format", "pax"]);
    let mut cases = cases;
    cases.push(Case {
        name: "gnutar",
        layers: vec![gnu],
        want: Ok("/keep cap_kill=ep\n"),
        warned: &["/ping", "/ping-link"],
    });
    cases.push(Case {
        name: "bsdtar",
        layers: vec![bsd],
        want: Ok("/keep cap_kill=ep\n/ping cap_net_raw=ep\n/ping-link cap_net_raw=ep\n"),
        warned: &[],
    });
    for case in &cases {
        check_case(&d, s, case);
    }
    // An empty record: containerd fails, Docker 20.10 drops it (Go's Xattrs skips
    // empty values); fcap refuses the image, naming containerd.
    let empty = docker_archive(
        s,
        "empty",
        &[Tar::default()
            .file("ok", Some(&kill))
            .file("bad", Some(b""))
            .done()],
    );
    assert_eq!(
        docker_view(&d, &empty, "empty", s).as_deref(),
        Ok("/ok cap_kill=ep\n")
    );
    assert!(containerd_view(&d, &empty, "empty", s).is_err());
    let (fcap, _) = fcap_view(&empty);
    assert!(
        fcap.as_ref().is_err_and(|e| e
            .contains("/bad: malformed security.capability: empty value")
            && e.contains("containerd fails")),
        "{fcap:?}"
    );
}

/// A random layer stack drawn from the classes above (Go's header rules, hard links
/// with records on some entries, entries and whiteouts below a lower symlink, the
/// misspelt record, values and links no runtime can unpack), read by fcap and
/// unpacked by both engines: the three must agree, on the listing or on refusing
/// the image. `FCAP_ENGINES_SEED` and `FCAP_ENGINES_CASES` replay or widen a run.
#[test]
fn random_layers_read_as_docker_and_containerd_unpack_them() {
    require_tool("getcap");
    require_tool("ctr");
    require_tool("unshare");
    let (seed, cases, mut rng) = random_run("FCAP_ENGINES", "random layers against the engines", 6);
    let d = Dockerd::start();
    let scratch = tempdir();
    let s = scratch.path();
    for case in 0..cases {
        let mut log = Vec::new();
        let layers: Vec<Vec<u8>> = (0..2 + rng.next() % 2)
            .map(|n| random_layer(&mut rng, n, &mut log))
            .collect();
        let name = format!("r{case}");
        let archive = docker_archive(s, &name, &layers);
        let docker = docker_view(&d, &archive, &name, s);
        let containerd = containerd_view(&d, &archive, &name, s);
        let (fcap, _) = fcap_view(&archive);
        let what = format!(
            "FCAP_ENGINES_SEED={seed} case {case}:\n{}\ndocker: {docker:?}\ncontainerd: {containerd:?}\nfcap: {fcap:?}",
            log.join("\n")
        );
        match (&docker, &containerd) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "the engines disagree: {what}");
                assert_eq!(fcap.as_ref().ok(), Some(a), "{what}");
            }
            (Err(_), Err(_)) => assert!(fcap.is_err(), "{what}"),
            _ => panic!("one engine unpacked it, the other did not: {what}"),
        }
    }
}

/// Whether `name` (an entry's path, or `!P` for what a whiteout hides) clashes with
/// the names a layer already has: two entries of one path, or a whiteout of a path
/// the layer has an entry at or below.
fn clashes(used: &[String], name: &str) -> bool {
    let under = |a: &str, b: &str| a == b || b.starts_with(&format!("{a}/"));
    used.iter()
        .any(|u| match (name.strip_prefix('!'), u.strip_prefix('!')) {
            (None, None) => u == name,
            (Some(h), None) => under(h, u),
            (None, Some(h)) => under(h, name),
            (Some(_), Some(_)) => false,
        })
}

/// One random layer (`n`: its index; the base layer makes the directories and
/// perhaps `lib -> usr/lib`); what it holds goes to `log`.
fn random_layer(rng: &mut SplitMix, n: u64, log: &mut Vec<String>) -> Vec<u8> {
    const FILES: &[&str] = &["a/f", "a/g", "b/h", "usr/lib/k", "usr/lib/m", "top"];
    const UNDER_LINK: &[&str] = &["lib/k", "lib/new", "lib/sub/x"];
    let vals = [v2(&[13], 0), v2(&[5], 0), v2(&[0, 12], 0)];
    let mut t = Tar::default();
    let mut say = |s: String| log.push(format!("layer {n}: {s}"));
    // Docker (tar-split) refuses a layer with two entries of one name, containerd
    // takes the last: layers must not have them (image-spec), so none are drawn.
    // A whiteout of a path the same layer has an entry at or below fails in both
    // overlay appliers (mknod: EEXIST), which fcap does not model: not drawn either
    // ("!P" stands for the path a whiteout hides).
    let mut used: Vec<String> = Vec::new();
    let mut fresh = |names: &[&str]| {
        if names.iter().any(|n| clashes(&used, n)) {
            return false;
        }
        used.extend(names.iter().map(|n| n.to_string()));
        true
    };
    if n == 0 {
        for dir in ["a", "b", "usr", "usr/lib"] {
            fresh(&[dir]);
            t = t.dir(dir);
        }
        if rng.chance(60) && fresh(&["lib"]) {
            t = t.symlink("lib", "usr/lib");
            say("lib -> usr/lib".into());
        }
    }
    for _ in 0..1 + rng.next() % 5 {
        let val = |rng: &mut SplitMix| rng.pick(&vals).clone();
        match rng.next() % 100 {
            // A file, with or without a record.
            0..=24 => {
                let p = *rng.pick(FILES);
                if !fresh(&[p]) {
                    continue;
                }
                let v = rng.chance(70).then(|| val(rng));
                say(format!(
                    "file {p} {}",
                    if v.is_some() { "capped" } else { "plain" }
                ));
                t = t.file(p, v.as_deref());
            }
            // A hard-linked file: a data entry and one or two links, each with a
            // record or not, the links with their own mode and owner.
            25..=44 => {
                let p = *rng.pick(FILES);
                let (l1, l2) = (format!("{p}-l1"), format!("{p}-l2"));
                if !fresh(&[p, &l1, &l2]) {
                    continue;
                }
                let v = rng.chance(70).then(|| val(rng));
                t = t.file(p, v.as_deref());
                let mut shown = vec![format!("{p} {}", v.is_some())];
                for (i, l) in ["-l1", "-l2"].iter().enumerate() {
                    if i == 1 && rng.chance(50) {
                        break;
                    }
                    let name = format!("{p}{l}");
                    let lv = match rng.next() % 3 {
                        0 => None,
                        1 => v.clone(),
                        _ => Some(val(rng)),
                    };
                    let (mode, uid) = if rng.chance(30) {
                        (0o700, 7)
                    } else {
                        (0o755, 0)
                    };
                    shown.push(format!("{name} {} {mode:o} {uid}", lv.is_some()));
                    t = t.link(&name, p, lv.as_deref(), mode, uid);
                }
                say(format!("hard links {}", shown.join(", ")));
            }
            // Below a lower layer's symlink (a file or a whiteout).
            45..=59 if n > 0 => {
                let p = *rng.pick(UNDER_LINK);
                let (dir, base) = p.rsplit_once('/').unwrap();
                let w = format!("{dir}/.wh.{base}");
                let whiteout = rng.chance(40);
                let ok = if whiteout {
                    fresh(&[&w, &format!("!{p}")])
                } else {
                    fresh(&[p])
                };
                if !ok {
                    continue;
                }
                if whiteout {
                    say(format!("whiteout {p}"));
                    t = t.file(&w, None);
                } else {
                    let v = val(rng);
                    say(format!("file {p} capped"));
                    t = t.file(p, Some(&v));
                }
            }
            // A whiteout of a lower file or directory, or an opaque directory.
            60..=69 if n > 0 => {
                let p = *rng.pick(&["a/f", "b", "usr/lib/k", "a/.wh..wh..opq", "top"]);
                let w = match p.rsplit_once('/') {
                    Some((_, ".wh..wh..opq")) => p.to_string(),
                    Some((dir, base)) => format!("{dir}/.wh.{base}"),
                    None => format!(".wh.{p}"),
                };
                // An entry and a whiteout of one path in one layer: the overlay
                // appliers fail (EEXIST) when the entry comes first (not drawn).
                // An opaque marker hides nothing of its own layer.
                let hides = format!("!{p}");
                let names: &[&str] = if w == p { &[&w] } else { &[&w, &hides] };
                if !fresh(names) {
                    continue;
                }
                say(format!("whiteout {w}"));
                t = t.file(&w, None);
            }
            // Go's header rules: a global header, an empty pax path, a GNU long
            // name with a pax path, a second 'x' header, the misspelt record.
            70..=84 => {
                let p = *rng.pick(FILES);
                if !fresh(&[p]) {
                    continue;
                }
                let v = val(rng);
                match rng.next() % 5 {
                    0 => {
                        say(format!("global header with a value, then {p} plain"));
                        t = t
                            .pax(b'g', &[(CAP, &v), ("path", b"elsewhere")])
                            .file(p, None);
                    }
                    1 => {
                        say(format!("empty pax path, {p} capped"));
                        t = t
                            .pax(b'x', &[("path", b""), (CAP, &v)])
                            .entry(Ent::new(p, b'0'));
                    }
                    2 => {
                        say(format!("long name {p} over pax path top, capped"));
                        t = t
                            .pax(b'x', &[("path", b"top"), (CAP, &v)])
                            .entry(Ent {
                                data: p.as_bytes(),
                                ..Ent::new("././@LongLink", b'L')
                            })
                            .entry(Ent::new("short", b'0'));
                    }
                    3 => {
                        say(format!("second x header drops the value of {p}"));
                        t = t
                            .pax(b'x', &[(CAP, &v)])
                            .pax(b'x', &[("uid", b"0")])
                            .entry(Ent::new(p, b'0'));
                    }
                    _ => {
                        say(format!("misspelt record on {p}"));
                        t = t
                            .pax(b'x', &[("SCHILY.xattrs.security.capability", &v)])
                            .entry(Ent::new(p, b'0'));
                    }
                }
            }
            // What no runtime can unpack (rarely: it ends the case's interest).
            85..=89 if fresh(&["top", "a/lower-link", "a/f"]) => match rng.next() % 3 {
                0 => {
                    say("a v1 value on top".into());
                    t = t.file("top", Some(&v1(&[13])));
                }
                1 => {
                    say("a value with flag bit 0x4 on top".into());
                    t = t.file("top", Some(&v2(&[13], 0x4)));
                }
                _ if n > 0 => {
                    say("a hard link to a lower layer's a/f".into());
                    t = t.link("a/lower-link", "a/f", None, 0o755, 0);
                }
                _ => {}
            },
            _ => {}
        }
    }
    t.done()
}
