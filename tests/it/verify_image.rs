//! `verify --image` end to end: an OCI image built by umoci from a root filesystem
//! holding cat(1), its libraries, account files and programs with file
//! capabilities; fcap reads the image (never unpacked), and the oracle is the same
//! image unpacked by `umoci unpack` and run by a real runc, each program printing
//! its own `/proc/self/status`.

use crate::runtime::Observed;
use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sh(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An image `DIR/oci:web` (two layers, User web) and its `umoci unpack` bundle.
struct Image {
    dir: tempfile::TempDir,
}

impl Image {
    fn new() -> Image {
        require_root();
        require_tool("umoci");
        require_tool("runc");
        let dir = tempdir();
        let d = dir.path();
        sh(Command::new("umoci")
            .args(["init", "--layout"])
            .arg(d.join("oci")));
        sh(Command::new("umoci")
            .args(["new", "--image"])
            .arg(d.join("oci:base")));
        sh(Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(d.join("oci:base"))
            .arg(d.join("build")));
        let root = d.join("build/rootfs");
        let out = Command::new("ldd").arg("/bin/cat").output().unwrap();
        for w in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if w.starts_with('/') {
                let dest = root.join(w.strip_prefix('/').unwrap());
                std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
                cp(Path::new(w), &dest);
            }
        }
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000::/srv:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            root.join("etc/group"),
            "root:x:0:\nweb:x:1000:\nextra:x:2000:web\n",
        )
        .unwrap();
        let bin = root.join("usr/bin");
        for (name, caps) in [
            ("web", Some("cap_net_bind_service=ep")),
            ("raw", Some("cap_net_raw=ep")),
            ("later", Some("cap_net_bind_service=ep")),
            ("plain", None),
            ("locked", Some("cap_net_bind_service=ep")),
        ] {
            cp(Path::new("/bin/cat"), &bin.join(name));
            if let Some(c) = caps {
                setcap_on(&bin.join(name), &[c]);
            }
        }
        // Root's alone: uid 1000 may not execute it.
        std::fs::set_permissions(
            bin.join("locked"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        setcap_on(&bin.join("locked"), &["cap_net_bind_service=ep"]);
        write_exec(&bin.join("script"), b"#!/usr/bin/web\n");
        // An absolute link: on the host it would lead to the host's /usr/bin/web.
        std::os::unix::fs::symlink("/usr/bin/web", bin.join("link")).unwrap();
        let repack = |tag: &str, by: &str| {
            sh(Command::new("umoci")
                .args(["repack", "--history.created_by", by, "--image"])
                .arg(d.join(format!("oci:{tag}")))
                .arg(d.join("build")));
        };
        repack("web", "COPY rootfs /");
        // A second layer replaces `later` without its capability, as a COPY does.
        let later = bin.join("later");
        std::fs::remove_file(&later).unwrap();
        cp(Path::new("/bin/cat"), &later);
        repack("web", "COPY later /usr/bin/later");
        sh(Command::new("umoci")
            .args(["config", "--config.user", "web", "--image"])
            .arg(d.join("oci:web")));
        sh(Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(d.join("oci:web"))
            .arg(d.join("bundle")));
        Image { dir }
    }

    fn oci(&self) -> PathBuf {
        self.dir.path().join("oci:web")
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("bundle/config.json")
    }

    /// Point the bundle's process at `prog`, with file capabilities allowed (umoci
    /// sets noNewPrivileges, which would hide them).
    fn point_at(&self, prog: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.config()).unwrap();
        let mut c: serde_json::Value = serde_json::from_str(&text).unwrap();
        c["process"]["args"] = serde_json::json!([prog, "/proc/self/status"]);
        c["process"]["noNewPrivileges"] = false.into();
        c["process"]["terminal"] = false.into();
        std::fs::write(self.config(), serde_json::to_vec_pretty(&c).unwrap()).unwrap();
        c
    }

    fn runc(&self) -> Result<Observed, String> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let id = format!(
            "fcap-img-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let out = Command::new("runc")
            .args(["run", "--bundle"])
            .arg(self.dir.path().join("bundle"))
            .arg(&id)
            .output()
            .unwrap();
        if !out.status.success() {
            let _ = Command::new("runc").args(["delete", "-f", &id]).output();
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(Observed::parse(&String::from_utf8_lossy(&out.stdout)))
    }
}

#[test]
fn verify_image_with_the_bundles_process_matches_runc() {
    let img = Image::new();
    for prog in [
        "/usr/bin/web",
        "/usr/bin/raw",
        "/usr/bin/later",
        "/usr/bin/plain",
        "/usr/bin/locked",
        "/usr/bin/script",
        "/usr/bin/link",
    ] {
        img.point_at(prog);
        let r = fcap_run([
            os("verify"),
            os("--json"),
            os("--image"),
            img.oci().as_os_str(),
            os("--oci-config"),
            img.config().as_os_str(),
        ]);
        assert!(matches!(r.code(), 0 | 1), "{}\n{}", r.cmd, r.stderr());
        let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
        assert_eq!(v["path"], prog, "{v}");
        match img.runc() {
            Ok(seen) => {
                assert_eq!(v["exec"], "ok", "runc ran {prog}, fcap says {v}");
                assert_eq!(
                    Observed::predicted(&v),
                    seen,
                    "{prog}: fcap (left), runc (right)"
                );
            }
            Err(err) => {
                let errno = if err.contains("permission denied") {
                    "eacces"
                } else {
                    assert!(
                        err.contains("operation not permitted"),
                        "runc on {prog}: {err}"
                    );
                    "eperm"
                };
                assert_eq!(v["exec"], errno, "{prog}: runc said {err}, fcap {v}");
            }
        }
        // What each program is, so the test cannot pass on empty facts.
        let expect = match prog {
            "/usr/bin/web" | "/usr/bin/link" | "/usr/bin/script" => "ok",
            "/usr/bin/raw" => "eperm",
            "/usr/bin/locked" => "eacces",
            _ => "ok",
        };
        assert_eq!(v["exec"], expect, "{prog}: {v}");
    }
}

#[test]
fn verify_image_reads_caps_links_scripts_and_users_from_the_image() {
    let img = Image::new();
    let verify = |args: &[&str]| {
        let mut a = vec![
            os("verify"),
            os("--json"),
            os("--image"),
            img.oci().into_os_string().leak(),
        ];
        a.extend(args.iter().map(|s| os(s)));
        let r = fcap_run(a);
        (r.code(), r.stdout(), r.stderr())
    };
    // No --user: the image config's User, looked up in the image's /etc/passwd and
    // /etc/group (this host has no user "web"), as umoci resolved it for runc.
    let text = std::fs::read_to_string(img.config()).unwrap();
    let c: serde_json::Value = serde_json::from_str(&text).unwrap();
    let (code, out, err) = verify(&["/usr/bin/web", "--require", "net_bind_service"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["caller"]["uid"], c["process"]["user"]["uid"]);
    assert_eq!(v["caller"]["gid"], c["process"]["user"]["gid"]);
    assert_eq!(v["caller"]["groups"], serde_json::json!([2000]));
    assert_eq!(v["file_caps"], "cap_net_bind_service=ep");
    assert_eq!(v["image"], img.oci().to_str().unwrap());
    assert!(
        v["caller"]["notes"]
            .to_string()
            .contains("the image config's User"),
        "{v}"
    );
    // The second layer's copy dropped the capability.
    let (code, out, _) = verify(&["/usr/bin/later", "--require", "net_bind_service"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["file_caps"], serde_json::Value::Null);
    // The symlink and the #! line are followed inside the image.
    let (_, out, _) = verify(&["/usr/bin/link"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["symlink_target"], "/usr/bin/web");
    let (_, out, _) = verify(&["/usr/bin/script"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["interpreter"], "/usr/bin/web");
    assert_eq!(v["file_caps"], "cap_net_bind_service=ep");
    // A name must exist in the image; a number always works.
    let (code, out, err) = verify(&["/usr/bin/web", "--user", "nobody"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains("unknown user 'nobody': not in /etc/passwd in"),
        "{err}"
    );
    let (code, out, _) = verify(&["/usr/bin/web", "--user", "4242"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["caller"]["uid"], 4242);
    // Root in the image runs the 0700 program; web does not.
    let (code, _, _) = verify(&["/usr/bin/locked", "--user", "root"]);
    assert_eq!(code, 0);
    let (code, out, _) = verify(&["/usr/bin/locked"]);
    assert_eq!(code, 1);
    assert!(out.contains("\"exec\":\"eacces\""), "{out}");
    // A file the image does not have.
    let (code, out, err) = verify(&["/usr/bin/nope"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("No such file or directory in"), "{err}");
}

/// Run the process section fcap derived from a descriptor and the image in the
/// image's own bundle under runc, and compare.
#[track_caller]
fn descriptor_matches_runc(img: &Image, flags: &[&str], prog: &str) -> serde_json::Value {
    let mut a = vec![
        os("verify").to_os_string(),
        os("--json").to_os_string(),
        os("--image").to_os_string(),
        img.oci().into_os_string(),
    ];
    a.extend(flags.iter().map(|f| os(f).to_os_string()));
    a.push(os(prog).to_os_string());
    let r = fcap_run(a);
    assert!(matches!(r.code(), 0 | 1), "{}\n{}", r.cmd, r.stderr());
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    let mut c = img.point_at(prog);
    for (k, val) in v["caller"]["descriptor"]["process"].as_object().unwrap() {
        if k != "args" {
            c["process"][k] = val.clone();
        }
    }
    std::fs::write(img.config(), serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    match img.runc() {
        Ok(seen) => {
            assert_eq!(v["exec"], "ok", "{flags:?}: {v}");
            assert_eq!(
                Observed::predicted(&v),
                seen,
                "{flags:?}: fcap (left), runc (right)"
            );
        }
        Err(e) => {
            assert!(e.contains("operation not permitted"), "runc: {e}");
            assert_eq!(v["exec"], "eperm", "runc: {e}: {v}");
        }
    }
    v
}

#[test]
fn descriptors_without_a_user_take_the_images_and_names_resolve_in_it() {
    let img = Image::new();
    let d = tempdir();
    let compose = d.path().join("compose.yaml");
    let pod = d.path().join("pod.yaml");
    let umoci: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(img.config()).unwrap()).unwrap();
    let ids = |v: &serde_json::Value| {
        (
            v["caller"]["uid"].clone(),
            v["caller"]["gid"].clone(),
            v["caller"]["groups"].clone(),
        )
    };
    let web = (
        umoci["process"]["user"]["uid"].clone(),
        umoci["process"]["user"]["gid"].clone(),
        serde_json::json!([2000]),
    );
    // Compose without a user: the image's User "web"; with one, named: looked up
    // in the image (this host has no such account).
    std::fs::write(&compose, "services:\n  web:\n    image: web\n").unwrap();
    let v = descriptor_matches_runc(
        &img,
        &["--compose", compose.to_str().unwrap()],
        "/usr/bin/web",
    );
    assert_eq!(ids(&v), web, "{v}");
    std::fs::write(
        &compose,
        "services:\n  web:\n    image: web\n    user: web:extra\n    cap_drop: [ALL]\n    cap_add: [NET_BIND_SERVICE]\n",
    )
    .unwrap();
    let v = descriptor_matches_runc(
        &img,
        &["--compose", compose.to_str().unwrap()],
        "/usr/bin/web",
    );
    assert_eq!(v["caller"]["gid"], 2000, "{v}");
    // docker run flags, by uid: the gid comes from the image's /etc/passwd.
    let v = descriptor_matches_runc(&img, &["--docker-args", "--user 1000 web"], "/usr/bin/web");
    assert_eq!(ids(&v), web, "{v}");
    // A pod without runAsUser: the image's User; runAsNonRoot then needs a
    // numeric User, as the kubelet checks.
    std::fs::write(
        &pod,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: w}\nspec:\n  containers:\n  - name: w\n    image: web\n    securityContext:\n      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}\n",
    )
    .unwrap();
    let v = descriptor_matches_runc(&img, &["--k8s", pod.to_str().unwrap()], "/usr/bin/web");
    assert_eq!(ids(&v), web, "{v}");
    std::fs::write(
        &pod,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: w}\nspec:\n  containers:\n  - name: w\n    image: web\n    securityContext:\n      runAsNonRoot: true\n",
    )
    .unwrap();
    let r = fcap_run([
        os("verify"),
        os("--image"),
        img.oci().as_os_str(),
        os("--k8s"),
        pod.as_os_str(),
        os("/usr/bin/web"),
    ]);
    r.status(2).stdout_is("");
    r.stderr_has("the image's User 'web' is a name");
}

/// A chain in an image: later programs are found on the image's PATH and followed
/// through its links and `#!` lines, users in its /etc/passwd and /etc/group (this
/// host has no user web and no /usr/bin/later).
#[test]
fn chains_in_an_image_resolve_every_link_in_the_image() {
    let img = Image::new();
    let r = fcap_run([
        os("verify"),
        os("--json"),
        os("--image"),
        img.oci().as_os_str(),
        os("/usr/bin/plain"),
        os("--user"),
        os("root"),
        os("--then"),
        os("later"),
        os("--then-user"),
        os("web"),
        os("--then"),
        os("/usr/bin/script"),
        os("--require"),
        os("net_bind_service"),
    ]);
    r.ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4, "{v}");
    assert_eq!(steps[1]["path"], "/usr/bin/later");
    // The second layer's copy has no capability: root gets its bounding set anyway.
    assert_eq!(steps[1]["file_caps"], serde_json::Value::Null);
    assert_eq!(steps[2]["link"], "user");
    assert_eq!(steps[2]["user"]["uid"], 1000);
    assert_eq!(steps[2]["user"]["groups"], serde_json::json!([2000]));
    assert_eq!(steps[2]["permitted"], serde_json::json!([]));
    assert_eq!(
        steps[3]["caller"]["groups"],
        serde_json::json!([1000, 2000])
    );
    assert_eq!(steps[3]["interpreter"], "/usr/bin/web");
    assert_eq!(steps[3]["file_caps"], "cap_net_bind_service=ep");
    assert_eq!(
        steps[3]["effective"],
        serde_json::json!(["cap_net_bind_service"])
    );
    assert_eq!(v["image"], img.oci().to_str().unwrap());
    // A later program the image does not have is an error naming the image.
    let r = fcap_run([
        os("verify"),
        os("--image"),
        img.oci().as_os_str(),
        os("/usr/bin/plain"),
        os("--then"),
        os("/usr/bin/nope"),
    ]);
    r.status(2);
    assert!(
        r.stderr().contains("No such file or directory in"),
        "{}",
        r.stderr()
    );
}
