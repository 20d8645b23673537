//! Manifests (`fcap apply`, `fcap check`), the package-upgrade hook with real .deb
//! packages, and the parallel scan behind `fcap read -r` (excludes, mounts, errors)
//! checked against libcap's getcap on real trees.

use crate::util::*;
use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn name(raw: &[u8]) -> OsString {
    OsString::from_vec(raw.to_vec())
}

/// Files with awkward names, each with its own capabilities: (name, libcap text).
fn awkward_tree(t: &Path) -> Vec<(PathBuf, &'static str)> {
    let cases: Vec<(&[u8], &str)> = vec![
        (b"plain", "cap_net_raw=ep"),
        (b"with space", "cap_chown=p"),
        (b"two  spaces ", "cap_kill=ei cap_chown+ep"),
        (b"tab\there", "cap_net_bind_service=ep"),
        (b"new\nline cap_sys_admin=ep", "cap_setuid=p"),
        (b"back\\slash", "cap_dac_override=ep"),
        (b"bad\xff\xfeutf8", "cap_fowner=i"),
        (b"x =ep", "cap_kill=p"),
        (b"#hash", "="),
        (b" lead", "cap_sys_time=ep"),
    ];
    std::fs::create_dir(t.join("sub dir")).unwrap();
    cases
        .into_iter()
        .enumerate()
        .map(|(i, (raw, text))| {
            let dir = if i % 2 == 0 {
                t.to_path_buf()
            } else {
                t.join("sub dir")
            };
            let p = dir.join(name(raw));
            std::fs::copy("/bin/true", &p).unwrap();
            setcap_on(&p, &[text]);
            (p, text)
        })
        .collect()
}

fn write(p: &Path, s: &str) {
    std::fs::write(p, s).unwrap();
}

#[test]
fn apply_and_check_round_trip_awkward_names_in_both_formats() {
    require_root();
    let d = tempdir();
    let tree = d.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    let files = awkward_tree(&tree);
    let saved: Vec<Option<Vec<u8>>> = files.iter().map(|(p, _)| raw_xattr(p)).collect();
    let m = tempdir();
    for json in [false, true] {
        let manifest = m.path().join(if json { "tree.jsonl" } else { "tree.caps" });
        let mut args = vec![os("read"), os("-r"), tree.as_os_str()];
        if json {
            args.insert(2, os("--json"));
        }
        let r = fcap_run(&args);
        r.ok();
        std::fs::write(&manifest, r.stdout()).unwrap();
        // The capture lists every file, once.
        assert_eq!(r.stdout().lines().count(), files.len(), "{}", r.stdout());

        fcap_run([os("check"), manifest.as_os_str()])
            .ok()
            .stdout_is("");
        // Strip every capability: each file is now "different".
        for (p, _) in &files {
            setcap(&[os("-r"), p.as_os_str()]).ok();
        }
        let r = fcap_run([os("check"), manifest.as_os_str()]);
        r.status(1);
        assert_eq!(r.stdout().lines().count(), files.len(), "{}", r.stdout());
        for l in r.stdout().lines() {
            assert!(
                l.starts_with("different ") && l.contains(" none (manifest: "),
                "{l}"
            );
        }
        // A dry run writes nothing.
        let r = fcap_run([os("apply"), os("--dry-run"), manifest.as_os_str()]);
        r.ok();
        assert_eq!(r.stdout().matches("would change ").count(), files.len());
        assert!(files.iter().all(|(p, _)| raw_xattr(p).is_none()));
        // Apply restores exactly the bytes libcap wrote.
        let r = fcap_run([os("apply"), manifest.as_os_str()]);
        r.ok();
        assert_eq!(r.stdout().matches("changed ").count(), files.len());
        let now: Vec<Option<Vec<u8>>> = files.iter().map(|(p, _)| raw_xattr(p)).collect();
        assert_eq!(now, saved, "json={json}");
        for (p, text) in &files {
            let got = getcap(&[p.as_os_str()]);
            let want = fcap::filecaps::FileCaps::from_text(text, None)
                .unwrap()
                .to_text();
            assert!(got.trim_end().ends_with(&format!(" {want}")), "{got}");
        }
        // Idempotent: a second run changes nothing, and says so per file.
        let r = fcap_run([os("apply"), manifest.as_os_str()]);
        r.ok();
        assert_eq!(r.stdout().matches("unchanged ").count(), files.len());
        fcap_run([os("apply"), os("--quiet"), manifest.as_os_str()])
            .ok()
            .stdout_is("");
        fcap_run([os("check"), manifest.as_os_str()])
            .ok()
            .stdout_is("");
    }
}

#[test]
fn apply_json_reports_each_file_with_its_manifest_line() {
    require_root();
    let d = tempdir();
    let a = copy_prog(d.path(), "a");
    let b = copy_prog(d.path(), "b");
    setcap_on(&b, &["cap_kill=p"]);
    let m = d.path().join("m.caps");
    write(
        &m,
        &format!(
            "# two programs\n\n{} cap_net_raw=ep\n{} cap_kill=p\n",
            a.display(),
            b.display()
        ),
    );
    let r = fcap_run([os("apply"), os("--json"), m.as_os_str()]);
    r.ok();
    let v: Vec<serde_json::Value> = r.json_lines();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["path"], a.to_str().unwrap());
    assert_eq!(v[0]["before"], serde_json::Value::Null);
    assert_eq!(v[0]["after"], "cap_net_raw=ep");
    assert_eq!(v[0]["changed"], true);
    assert_eq!(v[0]["line"], 3);
    assert_eq!(v[1]["changed"], false);
    assert_eq!(v[1]["line"], 4);
    assert_eq!(
        getcap(&[a.as_os_str()]),
        format!("{} cap_net_raw=ep\n", a.display())
    );
}

#[test]
fn a_missing_file_fails_its_line_and_the_rest_is_applied() {
    require_root();
    let d = tempdir();
    let a = copy_prog(d.path(), "a");
    let gone = d.path().join("gone");
    let m = d.path().join("m.caps");
    write(
        &m,
        &format!(
            "{} cap_chown=p\n{} cap_kill=p\n",
            gone.display(),
            a.display()
        ),
    );
    let r = fcap_run([os("apply"), m.as_os_str()]);
    r.status(2).stderr_is(&format!(
        "fcap: '{}': No such file or directory (listed at {}:1)\n",
        gone.display(),
        m.display()
    ));
    assert_eq!(
        getcap(&[a.as_os_str()]),
        format!("{} cap_kill=p\n", a.display())
    );
    // check reports it as missing, not as an error.
    let r = fcap_run([os("check"), m.as_os_str()]);
    r.status(1).stdout_is(&format!(
        "missing {} (manifest: cap_chown=p)\n",
        gone.display()
    ));
    let r = fcap_run([os("check"), os("--json"), m.as_os_str()]);
    r.status(1);
    let v: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    assert_eq!(v["status"], "missing");
    assert_eq!(v["expected"], "cap_chown=p");
    assert_eq!(v["line"], 1);
}

#[test]
fn a_malformed_manifest_names_file_and_line_and_is_skipped_whole() {
    require_root();
    let d = tempdir();
    let a = copy_prog(d.path(), "a");
    let b = copy_prog(d.path(), "b");
    let bad = d.path().join("bad.caps");
    write(
        &bad,
        &format!(
            "{} cap_chown=p\n# fine\n{} cap_bogus=ep\n",
            a.display(),
            d.path().display()
        ),
    );
    let good = d.path().join("good.caps");
    write(&good, &format!("{} cap_kill=p\n", b.display()));
    let r = fcap_run([os("apply"), bad.as_os_str(), good.as_os_str()]);
    r.status(2)
        .stderr_has(&format!("fcap: {}:3: ", bad.display()))
        .stderr_has("cap_bogus");
    // Nothing from the malformed manifest, everything from the good one.
    assert_eq!(raw_xattr(&a), None);
    assert_eq!(
        getcap(&[b.as_os_str()]),
        format!("{} cap_kill=p\n", b.display())
    );
    fcap_run([os("check"), bad.as_os_str()])
        .status(2)
        .stderr_has(&format!("{}:3: ", bad.display()));
    // A line without capabilities.
    write(&bad, &format!("\n\n{}\n", a.display()));
    fcap_run([os("check"), bad.as_os_str()])
        .status(2)
        .stderr_has(&format!("{}:3: expected 'PATH CAPS'", bad.display()));
}

#[test]
fn apply_refuses_a_symlink_and_names_the_real_file() {
    require_root();
    let d = tempdir();
    let real = copy_prog(d.path(), "real");
    let link = d.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let m = d.path().join("m.caps");
    write(&m, &format!("{} cap_kill=p\n", link.display()));
    fcap_run([os("apply"), m.as_os_str()])
        .status(2)
        .stderr_has(&format!(
            "is a symbolic link to '{}'; name that file itself",
            real.display()
        ));
    assert_eq!(raw_xattr(&real), None);
}

#[test]
fn check_root_reports_unlisted_privileged_files_as_manifest_lines() {
    require_root();
    let d = tempdir();
    let t = d.path();
    let a = copy_prog(t, "a");
    setcap_on(&a, &["cap_net_raw=ep"]);
    let m = t.join("m.caps");
    let r = fcap_run([os("read"), os("-r"), t.as_os_str()]);
    write(&m, &r.stdout());
    fcap_run([os("check"), m.as_os_str(), os("--root"), t.as_os_str()])
        .ok()
        .stdout_is("");
    std::fs::create_dir(t.join("new dir")).unwrap();
    let n = copy_prog(&t.join("new dir"), "intruder");
    setcap_on(&n, &["cap_sys_admin=ep"]);
    copy_prog(t, "harmless");
    // A relative --root finds the same files (listed files match by inode).
    let mut c = fcap();
    c.current_dir(t)
        .args([os("check"), m.as_os_str(), os("--root"), os(".")]);
    run(c)
        .status(1)
        .stdout_is("unexpected ./new dir/intruder cap_sys_admin=ep\n");
    let r = fcap_run([os("check"), m.as_os_str(), os("--root"), t.as_os_str()]);
    r.status(1)
        .stdout_is(&format!("unexpected {} cap_sys_admin=ep\n", n.display()));
    // The line after "unexpected " is a manifest line: accepting it clears the drift.
    let line = r.stdout().strip_prefix("unexpected ").unwrap().to_string();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&m)
        .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()))
        .unwrap();
    fcap_run([os("check"), m.as_os_str(), os("--root"), t.as_os_str()])
        .ok()
        .stdout_is("");
    let r = fcap_run([
        os("check"),
        os("--json"),
        m.as_os_str(),
        os("--root"),
        t.as_os_str(),
        os("--exclude"),
        os("new dir"),
    ]);
    r.ok().stdout_is("");
}

#[test]
fn system_directory_applies_every_caps_file_and_nothing_else() {
    require_root();
    let d = tempdir();
    let conf = d.path().join("fcap.d");
    std::fs::create_dir(&conf).unwrap();
    let a = copy_prog(d.path(), "a");
    let b = copy_prog(d.path(), "b");
    let c = copy_prog(d.path(), "c");
    write(
        &conf.join("10-a.caps"),
        &format!("{} cap_kill=p\n", a.display()),
    );
    write(
        &conf.join("20-b.caps"),
        &format!("{} cap_chown=ep\n", b.display()),
    );
    write(
        &conf.join("c.caps.disabled"),
        &format!("{} cap_chown=ep\n", c.display()),
    );
    let r = fcap_run([
        os("apply"),
        os("--system"),
        os("--config-dir"),
        conf.as_os_str(),
    ]);
    r.ok().stdout_is(&format!(
        "changed {} cap_kill=p (was none)\nchanged {} cap_chown=ep (was none)\n",
        a.display(),
        b.display()
    ));
    assert_eq!(raw_xattr(&c), None);
    fcap_run([
        os("check"),
        os("--system"),
        os("--config-dir"),
        conf.as_os_str(),
    ])
    .ok();
    // No system directory at all: nothing to do (the hook runs on every system),
    // quietly with --quiet, and saying where it looked without.
    let absent = d.path().join("absent");
    fcap_run([
        os("apply"),
        os("--system"),
        os("--quiet"),
        os("--config-dir"),
        absent.as_os_str(),
    ])
    .ok()
    .stdout_is("");
    fcap_run([
        os("apply"),
        os("--system"),
        os("--config-dir"),
        absent.as_os_str(),
    ])
    .ok()
    .stdout_is(&format!(
        "nothing to apply: no manifest line in '{}' (it does not exist)\n",
        absent.display()
    ));
}

/// A scratch dpkg installation: `dpkg --root` installs into this tree and keeps its
/// database under it (`ROOT/var/lib/dpkg`), so the host's package state is never
/// touched. Post-invoke hooks still run in the host's view (with DPKG_ROOT set),
/// which is what the hook test needs.
fn scratch_dpkg_root(dir: &Path) -> PathBuf {
    let root = dir.join("dpkg-root");
    for sub in ["var/lib/dpkg/info", "var/lib/dpkg/updates"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    write(&root.join("var/lib/dpkg/status"), "");
    root
}

/// The host's own record of `pkg` (`dpkg-query -W`), to prove the test left it alone.
fn host_knows_package(pkg: &str) -> bool {
    let mut c = Command::new("dpkg-query");
    c.args(["-W", pkg]);
    run(c).code() == 0
}

/// Build a tiny package holding one program under /usr/local/lib.
fn build_deb(dir: &Path, pkg: &str, version: &str, prog: &str) -> PathBuf {
    let root = dir.join(format!("root-{version}"));
    let libdir = root.join(format!("usr/local/lib/{pkg}"));
    std::fs::create_dir_all(&libdir).unwrap();
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    write(
        &root.join("DEBIAN/control"),
        &format!(
            "Package: {pkg}\nVersion: {version}\nArchitecture: all\nMaintainer: fcap tests <fcap@example.invalid>\nDescription: fcap upgrade test package\n"
        ),
    );
    std::fs::copy(prog, libdir.join("server")).unwrap();
    let deb = dir.join(format!("{pkg}_{version}.deb"));
    let mut c = Command::new("dpkg-deb");
    c.args([
        os("--root-owner-group"),
        os("--build"),
        root.as_os_str(),
        deb.as_os_str(),
    ]);
    run(c).ok();
    deb
}

/// The shell command the shipped apt hook runs.
fn hook_command() -> String {
    let conf = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/apt/99fcap"))
        .unwrap();
    let line = conf
        .lines()
        .find(|l| l.starts_with("DPkg::Post-Invoke"))
        .expect("99fcap has a DPkg::Post-Invoke line");
    let start = line.find('"').unwrap() + 1;
    let end = line.rfind('"').unwrap();
    line[start..end].to_string()
}

#[test]
fn capabilities_survive_real_package_upgrades_through_the_apt_and_dpkg_hooks() {
    require_root();
    let d = tempdir();
    let pkg = format!("fcap-test-upgrade-{}", std::process::id());
    let v1 = build_deb(d.path(), &pkg, "1.0", "/bin/true");
    let v2 = build_deb(d.path(), &pkg, "2.0", "/bin/false");
    let root = scratch_dpkg_root(d.path());
    let dpkg_root = format!("--root={}", root.display());
    let prog = root.join(format!("usr/local/lib/{pkg}/server"));
    assert!(!host_knows_package(&pkg));

    run({
        let mut c = Command::new("dpkg");
        c.args([os(&dpkg_root), os("-i"), v1.as_os_str()]);
        c
    })
    .ok();
    setcap_on(&prog, &["cap_net_bind_service=ep"]);
    // Record the capabilities in a test-only system directory.
    let conf = d.path().join("fcap.d");
    std::fs::create_dir(&conf).unwrap();
    let r = fcap_run([os("read"), os("-r"), prog.parent().unwrap().as_os_str()]);
    r.ok()
        .stdout_is(&format!("{} cap_net_bind_service=ep\n", prog.display()));
    write(&conf.join(format!("{pkg}.caps")), &r.stdout());

    // The upgrade replaces the file: its capabilities are gone.
    run({
        let mut c = Command::new("dpkg");
        c.args([os(&dpkg_root), os("-i"), v2.as_os_str()]);
        c
    })
    .ok();
    assert_eq!(raw_xattr(&prog), None, "dpkg kept the capabilities?");
    fcap_run([
        os("check"),
        os("--system"),
        os("--config-dir"),
        conf.as_os_str(),
    ])
    .status(1);

    // The hook, exactly as shipped, with only the directory pointed at the test one.
    let cmd = hook_command();
    assert!(cmd.contains("fcap apply --system"), "{cmd}");
    let cmd = cmd.replace(
        "fcap apply --system",
        &format!("fcap apply --system --config-dir '{}'", conf.display()),
    );
    let bin = d.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_fcap"), bin.join("fcap")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let hook = |c: &str| {
        let mut sh = Command::new("sh");
        sh.env("PATH", &path).args(["-c", c]);
        run(sh)
    };
    hook(&cmd).ok().stderr_is("").stdout_is(&format!(
        "changed {} cap_net_bind_service=ep (was none)\n",
        prog.display()
    ));
    assert_eq!(
        getcap(&[prog.as_os_str()]),
        format!("{} cap_net_bind_service=ep\n", prog.display())
    );
    // Every later dpkg run calls the hook again: quiet when nothing changed.
    hook(&cmd).ok().stderr_is("").stdout_is("");
    fcap_run([
        os("check"),
        os("--system"),
        os("--config-dir"),
        conf.as_os_str(),
    ])
    .ok();

    // The dpkg configuration snippet, read by dpkg itself (a bare `dpkg -i`, no apt):
    // dpkg also loads $HOME/.dpkg.cfg, which installs it without touching /etc.
    let snippet =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/dpkg/fcap")).unwrap();
    assert!(snippet.contains("fcap apply --system"), "{snippet}");
    let home = d.path().join("home");
    std::fs::create_dir(&home).unwrap();
    write(
        &home.join(".dpkg.cfg"),
        &snippet.replace(
            "fcap apply --system",
            &format!("fcap apply --system --config-dir '{}'", conf.display()),
        ),
    );
    let v3 = build_deb(d.path(), &pkg, "3.0", "/bin/true");
    let r = run({
        let mut c = Command::new("dpkg");
        c.env("HOME", &home)
            .env("PATH", &path)
            .args([os(&dpkg_root), os("-i"), v3.as_os_str()]);
        c
    });
    r.ok();
    assert!(
        r.stdout().contains(&format!(
            "changed {} cap_net_bind_service=ep (was none)\n",
            prog.display()
        )),
        "dpkg did not run the hook:\n{}",
        r.stdout()
    );
    assert_eq!(
        getcap(&[prog.as_os_str()]),
        format!("{} cap_net_bind_service=ep\n", prog.display())
    );
    // dpkg recorded all three versions in the scratch database, and the host's
    // database never heard of the package.
    let mut c = Command::new("dpkg-query");
    c.args([
        &format!("--admindir={}", root.join("var/lib/dpkg").display()),
        "-W",
        &pkg,
    ]);
    run(c).ok().stdout_is(&format!("{pkg}\t3.0\n"));
    assert!(
        !host_knows_package(&pkg),
        "the host's dpkg database was changed"
    );
}

// ---- the scan behind `fcap read -r` ----

fn line_set(s: &str) -> BTreeSet<String> {
    s.lines().map(str::to_string).collect()
}

/// A tree wide and deep enough that both workers share it: 40 directories of 30
/// subdirectories of 8 files, with capabilities sprinkled through, symlinks (to files,
/// to directories, dangling, a loop), a fifo, and an empty directory.
fn big_tree(t: &Path) -> usize {
    let mut hits = 0;
    for i in 0..40 {
        for j in 0..30 {
            let dir = t.join(format!("d{i}/e{j}"));
            std::fs::create_dir_all(&dir).unwrap();
            for k in 0..8 {
                let p = dir.join(format!("f{k}"));
                std::fs::write(&p, b"x").unwrap();
                if (i * 30 + j) % 97 == k {
                    setcap_on(&p, &["cap_kill=p"]);
                    hits += 1;
                }
            }
        }
        std::os::unix::fs::symlink("e0", t.join(format!("d{i}/link-dir"))).unwrap();
    }
    std::os::unix::fs::symlink("d0/e0/f0", t.join("link-file")).unwrap();
    std::os::unix::fs::symlink("nowhere", t.join("dangling")).unwrap();
    std::os::unix::fs::symlink(".", t.join("loop")).unwrap();
    std::fs::create_dir(t.join("empty")).unwrap();
    let fifo = std::ffi::CString::new(t.join("fifo").as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    hits
}

#[test]
fn parallel_scan_finds_exactly_what_getcap_finds_on_a_big_tree() {
    require_root();
    let d = tempdir();
    let hits = big_tree(d.path());
    assert!(hits > 10);
    for flags in [&[][..], &["-v"]] {
        let mut args: Vec<&OsStr> = vec![os("-r")];
        args.extend(flags.iter().map(|f| os(f)));
        args.push(d.path().as_os_str());
        let want = getcap(&args);
        let mut ours = vec![os("read")];
        ours.extend(args.iter().copied());
        for threads in ["1", "2", "7"] {
            let mut c = fcap();
            c.env("FCAP_SCAN_THREADS", threads).args(&ours);
            let r = run(c);
            r.ok();
            assert_eq!(
                line_set(&r.stdout()),
                line_set(&want),
                "{flags:?} x{threads}"
            );
            let out = r.stdout();
            let lines: Vec<&str> = out.lines().collect();
            assert!(lines.is_sorted(), "output is sorted");
        }
    }
    let r = fcap_run([os("read"), os("-r"), d.path().as_os_str()]);
    assert_eq!(r.stdout().lines().count(), hits);
}

#[test]
fn exclude_leaves_out_names_anywhere_and_whole_paths() {
    require_root();
    let d = tempdir();
    let t = d.path();
    for dir in ["keep", "node_modules", "keep/node_modules", "skip/deep"] {
        std::fs::create_dir_all(t.join(dir)).unwrap();
        setcap_on(&copy_prog(&t.join(dir), "prog"), &["cap_kill=p"]);
        setcap_on(&copy_prog(&t.join(dir), "lib.so"), &["cap_chown=p"]);
    }
    let read = |extra: &[&str]| {
        let mut args = vec![os("read"), os("-r")];
        for e in extra {
            args.push(os("--exclude"));
            args.push(os(e));
        }
        args.push(t.as_os_str());
        let r = fcap_run(&args);
        r.ok();
        r.stdout()
            .lines()
            .map(|l| {
                l.split(' ')
                    .next()
                    .unwrap()
                    .strip_prefix(&format!("{}/", t.display()))
                    .unwrap()
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(read(&[]).len(), 8);
    assert_eq!(
        read(&["node_modules", "*.so"]),
        ["keep/prog", "skip/deep/prog"]
    );
    let skip = format!("{}/skip", t.display());
    let kept = read(&[&skip, "lib.s?"]);
    assert_eq!(
        kept,
        ["keep/node_modules/prog", "keep/prog", "node_modules/prog"]
    );
    let deep = format!("{}/**/prog", t.display());
    assert_eq!(
        read(&[&deep, "node_modules"]),
        ["keep/lib.so", "skip/deep/lib.so"]
    );
}

/// Unmounts when dropped, so a failing test leaves no mount behind.
struct Mount(PathBuf);

impl Mount {
    fn new(fstype: &str, at: &Path) -> Mount {
        Mount::with(fstype, "defaults", at)
    }

    fn with(fstype: &str, options: &str, at: &Path) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        let mut c = Command::new("mount");
        c.args([
            os("-t"),
            os(fstype),
            os("-o"),
            os(options),
            os(fstype),
            at.as_os_str(),
        ]);
        run(c).ok();
        Mount(at.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn scan_enters_real_mounts_skips_pseudo_ones_and_stays_put_with_x() {
    require_root();
    let d = tempdir();
    let t = d.path();
    setcap_on(&copy_prog(t, "top"), &["cap_kill=p"]);
    // A name with a space: mountinfo escapes it as \040.
    let tmp = Mount::new("tmpfs", &t.join("on tmpfs"));
    setcap_on(&copy_prog(&tmp.0, "inner"), &["cap_chown=p"]);
    let _proc = Mount::new("proc", &t.join("proc"));
    let top = format!("{}/top cap_kill=p\n", t.display());
    let inner = format!("{}/on tmpfs/inner cap_chown=p\n", t.display());
    let r = fcap_run([os("read"), os("-r"), t.as_os_str()]);
    r.ok().stderr_is("").stdout_is(&format!("{inner}{top}"));
    fcap_run([os("read"), os("-r"), os("-x"), t.as_os_str()])
        .ok()
        .stdout_is(&top);
    // -v lists the tmpfs mount point but nothing of the procfs one.
    let r = fcap_run([os("read"), os("-r"), os("-v"), t.as_os_str()]);
    r.ok();
    assert!(
        r.stdout()
            .contains(&format!("{}/on tmpfs (Not a regular file)\n", t.display()))
    );
    assert!(
        !r.stdout().contains(&format!("{}/proc", t.display())),
        "{}",
        r.stdout()
    );
    // Same from a relative root.
    let mut c = fcap();
    c.current_dir(t)
        .args([os("read"), os("-r"), os("-x"), os(".")]);
    run(c).ok().stdout_is("./top cap_kill=p\n");
}

#[test]
fn an_unreadable_directory_is_reported_and_the_scan_goes_on() {
    require_root();
    let d = tempdir();
    let t = d.path();
    setcap_on(&copy_prog(t, "a"), &["cap_kill=p"]);
    let locked = t.join("locked");
    std::fs::create_dir(&locked).unwrap();
    setcap_on(&copy_prog(&locked, "hidden"), &["cap_chown=p"]);
    setcap_on(&copy_prog(t, "z"), &["cap_chown=p"]);
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    read_as_nobody(&[t.as_os_str()])
        .status(2)
        .stdout_is(&format!(
            "{0}/a cap_kill=p\n{0}/z cap_chown=p\n",
            t.display()
        ))
        .stderr_is(&format!(
            "fcap: '{}': cannot read directory: Permission denied\n",
            locked.display()
        ));
}

#[test]
fn files_with_other_attributes_and_long_attribute_lists_are_read_right() {
    require_root();
    let d = tempdir();
    let t = d.path();
    // Only a user.* attribute: listed names, but no capability.
    let plain = copy_prog(t, "plain");
    xattr::set(&plain, "user.note", b"x").unwrap();
    // Capabilities among other attributes.
    let mixed = copy_prog(t, "mixed");
    xattr::set(&mixed, "user.a", b"1").unwrap();
    setcap_on(&mixed, &["cap_net_raw=ep"]);
    xattr::set(&mixed, "user.z", b"2").unwrap();
    // A name list longer than the scan's list buffer (ERANGE, then getxattrat).
    let long = copy_prog(t, "long");
    for i in 0..40 {
        xattr::set(&long, format!("user.{i:02}-{}", "n".repeat(60)), b"v").unwrap();
    }
    setcap_on(&long, &["cap_chown=p"]);
    let want = getcap(&[os("-r"), t.as_os_str()]);
    let r = fcap_run([os("read"), os("-r"), t.as_os_str()]);
    r.ok();
    assert_eq!(line_set(&r.stdout()), line_set(&want));
    assert_eq!(
        r.stdout(),
        format!(
            "{0}/long cap_chown=p\n{0}/mixed cap_net_raw=ep\n",
            t.display()
        )
    );
}

#[test]
fn a_directory_bigger_than_one_getdents_reply_is_read_whole_on_tmpfs() {
    require_root();
    let d = tempdir();
    let m = Mount::new("tmpfs", &d.path().join("mnt"));
    let big = m.0.join("big");
    std::fs::create_dir(&big).unwrap();
    // ~3000 records of ~72 bytes: more than the 128 KiB the scan reads at once.
    let long = "x".repeat(48);
    for i in 0..3000 {
        std::fs::write(big.join(format!("{long}{i:05}")), b"").unwrap();
    }
    for i in [0, 1499, 2999] {
        setcap_on(&big.join(format!("{long}{i:05}")), &["cap_kill=p"]);
    }
    for flags in [&[][..], &["-v"]] {
        let mut args: Vec<&OsStr> = vec![os("-r")];
        args.extend(flags.iter().map(|f| os(f)));
        args.push(m.0.as_os_str());
        let want = getcap(&args);
        let mut ours = vec![os("read")];
        ours.extend(args.iter().copied());
        let r = fcap_run(&ours);
        r.ok();
        assert_eq!(line_set(&r.stdout()), line_set(&want), "{flags:?}");
    }
    let r = fcap_run([os("read"), os("-r"), m.0.as_os_str()]);
    assert_eq!(r.stdout().lines().count(), 3);
}

#[test]
fn a_json_null_removes_capabilities_and_stdin_is_a_manifest() {
    require_root();
    let d = tempdir();
    let a = copy_prog(d.path(), "a");
    let b = copy_prog(d.path(), "b");
    setcap_on(&a, &["cap_kill=p"]);
    // Relative paths are relative to the current directory, as `read -r .` prints them.
    let manifest = "{\"path\":\"./a\",\"caps\":null}\n./b cap_chown=ep\n";
    let mut c = fcap();
    c.current_dir(d.path())
        .args(["apply", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), manifest.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "changed ./a none (was cap_kill=p)\nchanged ./b cap_chown=ep (was none)\n"
    );
    assert_eq!(raw_xattr(&a), None);
    assert_eq!(
        getcap(&[b.as_os_str()]),
        format!("{} cap_chown=ep\n", b.display())
    );
}

/// `fcap read -r ARGS` as the unprivileged user `nobody`.
fn read_as_nobody(args: &[&OsStr]) -> Run {
    let mut c = Command::new("setpriv");
    c.args([
        os("--reuid=65534"),
        os("--regid=65534"),
        os("--clear-groups"),
        os(env!("CARGO_BIN_EXE_fcap")),
        os("read"),
        os("-r"),
    ])
    .args(args);
    run(c)
}

#[test]
fn an_unreadable_mount_point_left_out_by_x_is_not_an_error() {
    require_root();
    let d = tempdir();
    let t = d.path();
    setcap_on(&copy_prog(t, "a"), &["cap_kill=p"]);
    let m = Mount::with("tmpfs", "mode=0700", &t.join("private"));
    setcap_on(&copy_prog(&m.0, "inner"), &["cap_chown=p"]);
    read_as_nobody(&[os("-x"), t.as_os_str()])
        .ok()
        .stderr_is("")
        .stdout_is(&format!("{}/a cap_kill=p\n", t.display()));
    // Without -x the walk would enter it, so not being able to is an error.
    read_as_nobody(&[t.as_os_str()])
        .status(2)
        .stdout_is(&format!("{}/a cap_kill=p\n", t.display()))
        .stderr_is(&format!(
            "fcap: '{}': cannot read directory: Permission denied\n",
            m.0.display()
        ));
}

/// `check --root` lists unexpected files in the order `read -r` prints them (by
/// bytes: `a-b` before `a/x`, which a component-wise sort would swap).
#[test]
fn check_root_orders_files_like_read() {
    require_root();
    let d = tempdir();
    let t = d.path();
    std::fs::create_dir(t.join("a")).unwrap();
    for p in [t.join("a/x"), t.join("a-b"), t.join("a.c")] {
        std::fs::write(&p, b"x").unwrap();
        setcap_on(&p, &["cap_net_raw=ep"]);
    }
    let m = t.join("empty.caps");
    write(&m, "");
    let read = fcap_run([os("read"), os("-r"), t.as_os_str()]);
    read.ok();
    let check = fcap_run([os("check"), m.as_os_str(), os("--root"), t.as_os_str()]);
    check.status(1);
    let listed: Vec<String> = check
        .stdout()
        .lines()
        .map(|l| l.strip_prefix("unexpected ").unwrap().to_string())
        .collect();
    let read: Vec<String> = read.stdout().lines().map(str::to_string).collect();
    assert_eq!(listed, read);
    assert!(
        read[0].starts_with(&format!("{}/a-b ", t.display())),
        "{read:?}"
    );
}

/// A manifest line with a 10 MB path gets an error of a readable size that still
/// names the start of the path, the cause and the line; the other lines still apply.
#[test]
fn a_line_with_a_10_mb_path_gets_a_short_error_naming_cause_and_line() {
    require_root();
    let d = tempdir();
    let a = copy_prog(d.path(), "a");
    let huge = format!("/{}", "a".repeat(10 << 20));
    let cases = [
        // Parses, and the file cannot exist (ENAMETOOLONG).
        (
            format!("{huge} cap_kill=p\n{} cap_kill=p\n", a.display()),
            "File name too long (listed at",
        ),
        // A bad escape: the whole manifest is refused.
        (format!("{huge}\\q cap_kill=p\n"), "unknown escape"),
        // No capability text at all.
        (format!("{huge}\n"), "expected 'PATH CAPS'"),
    ];
    for (i, (text, cause)) in cases.iter().enumerate() {
        let m = d.path().join(format!("m{i}.caps"));
        write(&m, text);
        for cmd in ["apply", "check"] {
            let r = fcap_run([os(cmd), m.as_os_str()]);
            r.status(2).stderr_has(cause).stderr_has("bytes left out]");
            let err = r.stderr();
            assert!(err.len() < 2000, "{cmd} {i}: {} bytes of errors", err.len());
            assert!(err.starts_with("fcap: "), "{err}");
            assert!(err.contains(&format!("{}:1", m.display())), "{err}");
        }
    }
    assert_eq!(
        getcap(&[a.as_os_str()]),
        format!("{} cap_kill=p\n", a.display())
    );
}

/// A tree deeper than PATH_MAX, built relative to directory fds, with a file with
/// capabilities at the bottom: `read -r` lists it, and the manifest it prints must
/// work with `check --root` and `apply` (no "File name too long", no "unexpected").
#[test]
fn check_and_apply_reach_files_deeper_than_path_max() {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use xattr::FileExt;
    require_root();
    let d = tempdir();
    let root = d.path().join("deep");
    std::fs::create_dir(&root).unwrap();
    let component = "d".repeat(200);
    let mut dir = OwnedFd::from(std::fs::File::open(&root).unwrap());
    let mut path = root.clone();
    for _ in 0..25 {
        let c = std::ffi::CString::new(component.as_str()).unwrap();
        // SAFETY: an open directory fd and a NUL-terminated name.
        let made = unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), 0o755) };
        assert_eq!(made, 0);
        // SAFETY: as above.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        assert!(fd >= 0);
        // SAFETY: the kernel just returned this fd.
        dir = unsafe { OwnedFd::from_raw_fd(fd) };
        path.push(&component);
    }
    path.push("tool");
    assert!(path.as_os_str().len() > 4096);
    let name = std::ffi::CString::new("tool").unwrap();
    // SAFETY: an open directory fd, a NUL-terminated name and the mode O_CREAT needs.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_CREAT | libc::O_RDWR | libc::O_CLOEXEC,
            0o755,
        )
    };
    assert!(fd >= 0);
    // SAFETY: the kernel just returned this fd.
    let tool = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    // libcap's bytes, written on a short-path scratch file and copied down.
    let bytes = |text: &str| {
        let s = copy_prog(d.path(), "scratch");
        setcap_on(&s, &[text]);
        let b = raw_xattr(&s).unwrap();
        std::fs::remove_file(&s).unwrap();
        b
    };
    tool.set_xattr("security.capability", &bytes("cap_net_raw=ep"))
        .unwrap();

    let listing = fcap_run([os("read"), os("-r"), root.as_os_str()]);
    listing.ok();
    let line = format!("{} cap_net_raw=ep\n", path.display());
    assert_eq!(listing.stdout(), line);
    // The path it prints can be read on its own too.
    fcap_run([os("read"), path.as_os_str()])
        .ok()
        .stdout_is(&line);
    let m = d.path().join("deep.caps");
    write(&m, &listing.stdout());
    let check = || fcap_run([os("check"), os("--root"), root.as_os_str(), m.as_os_str()]);
    check().ok().stdout_is("");
    fcap_run([os("apply"), m.as_os_str()])
        .ok()
        .stdout_is(&format!("unchanged {line}"));

    write(&m, &format!("{} cap_kill=p\n", path.display()));
    check().status(1).stdout_is(&format!(
        "different {} cap_net_raw=ep (manifest: cap_kill=p)\n",
        path.display()
    ));
    let r = fcap_run([os("apply"), m.as_os_str()]);
    r.ok().stdout_is(&format!(
        "changed {} cap_kill=p (was cap_net_raw=ep)\n",
        path.display()
    ));
    assert!(!r.stderr().contains("File name too long"), "{}", r.stderr());
    assert_eq!(
        tool.get_xattr("security.capability").unwrap(),
        Some(bytes("cap_kill=p"))
    );
    check().ok().stdout_is("");
}
