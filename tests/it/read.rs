//! `fcap read` against libcap's getcap on real files with real xattrs.

use crate::util::*;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Lines of a command's stdout as a set (getcap -r prints in readdir order).
fn line_set(s: &str) -> BTreeSet<String> {
    s.lines().map(str::to_string).collect()
}

/// A tree with v2, v3, empty and uncapped files, a symlink and a fifo.
fn sample_tree() -> tempfile::TempDir {
    require_root();
    let d = tempdir();
    let t = d.path();
    setcap_on(&copy_prog(t, "ping"), &["cap_net_raw=ep"]);
    setcap_on(&copy_prog(t, "mixed"), &["cap_kill=ei cap_chown+ep"]);
    setcap_on(
        &copy_prog(t, "ns"),
        &["-n", "1000", "cap_chown,cap_kill=ep"],
    );
    setcap_on(&copy_prog(t, "empty"), &["="]);
    copy_prog(t, "plain");
    std::fs::create_dir(t.join("sub")).unwrap();
    setcap_on(&copy_prog(&t.join("sub"), "all"), &["=eip cap_sys_admin-i"]);
    setcap_on(
        &copy_prog(&t.join("sub"), "big"),
        &["-n", "2147483648", "cap_net_raw=p"],
    );
    std::os::unix::fs::symlink("ping", t.join("link")).unwrap();
    let fifo = std::ffi::CString::new(t.join("fifo").as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    d
}

/// getcap's flag as fcap read spells it: getcap's `-n` is `--rootid` (fcap's `-n` is
/// `--dry-run`, for the commands that write).
fn fcap_flag(a: &OsStr) -> &OsStr {
    if a == "-n" { OsStr::new("--rootid") } else { a }
}

#[test]
fn read_matches_getcap_byte_for_byte_per_file() {
    let d = sample_tree();
    let t = d.path();
    for name in [
        "ping", "mixed", "ns", "empty", "plain", "sub/all", "sub/big", "link", "fifo", "sub",
    ] {
        let p = t.join(name);
        for flags in [&[][..], &["-v"], &["-n"], &["-n", "-v"]] {
            let mut args: Vec<&OsStr> = flags.iter().map(|f| OsStr::new(*f)).collect();
            args.push(p.as_os_str());
            let want = getcap(&args);
            let mut ours = vec![OsStr::new("read")];
            ours.extend(args.iter().map(|a| fcap_flag(a)));
            fcap_run(ours).ok().stdout_is(&want);
        }
    }
}

#[test]
fn read_prints_exact_lines_for_known_values() {
    let d = sample_tree();
    let t = d.path();
    let r = fcap_run([
        os("read"),
        t.join("ping").as_os_str(),
        t.join("mixed").as_os_str(),
    ]);
    r.ok().stdout_is(&format!(
        "{0}/ping cap_net_raw=ep\n{0}/mixed cap_kill=ei cap_chown+ep\n",
        t.display()
    ));
    fcap_run([os("read"), os("--rootid"), t.join("ns").as_os_str(), t.join("sub/big").as_os_str()])
        .ok()
        .stdout_is(&format!(
            "{0}/ns cap_chown,cap_kill=ep [rootid=1000]\n{0}/sub/big cap_net_raw=p [rootid=-2147483648]\n",
            t.display()
        ));
    fcap_run([os("read"), t.join("empty").as_os_str()])
        .ok()
        .stdout_is(&format!("{}/empty =\n", t.display()));
}

#[test]
fn recursive_read_finds_what_getcap_finds() {
    let d = sample_tree();
    for flags in [&[][..], &["-v"], &["-n"], &["-n", "-v"]] {
        let mut args: Vec<&OsStr> = vec![os("-r")];
        args.extend(flags.iter().map(|f| os(f)));
        args.push(d.path().as_os_str());
        let want = getcap(&args);
        let mut ours = vec![os("read")];
        ours.extend(args.iter().map(|a| fcap_flag(a)));
        let r = fcap_run(ours);
        r.ok();
        assert_eq!(line_set(&r.stdout()), line_set(&want), "flags {flags:?}");
        // And our output is sorted by path.
        let lines: Vec<String> = r.stdout().lines().map(str::to_string).collect();
        let mut sorted = lines.clone();
        sorted.sort();
        assert_eq!(lines, sorted);
    }
}

#[test]
fn recursive_read_strips_trailing_slashes_like_nftw() {
    let d = sample_tree();
    let root = format!("{}//", d.path().display());
    let want = getcap(&[os("-r"), os(&root)]);
    let r = fcap_run([os("read"), os("-r"), os(&root)]);
    assert_eq!(line_set(&r.stdout()), line_set(&want));
    assert!(
        r.stdout()
            .contains(&format!("{}/ping cap_net_raw=ep", d.path().display()))
    );
}

#[test]
fn missing_paths_are_errors_and_the_rest_is_still_read() {
    let d = sample_tree();
    let missing = d.path().join("nope");
    let r = fcap_run([
        os("read"),
        missing.as_os_str(),
        d.path().join("ping").as_os_str(),
    ]);
    r.status(2)
        .stderr_is(&format!(
            "fcap: '{}': No such file or directory\n",
            missing.display()
        ))
        .stdout_is(&format!("{}/ping cap_net_raw=ep\n", d.path().display()));
    fcap_run([os("read"), os("-r"), missing.as_os_str()])
        .status(2)
        .stderr_has("No such file or directory");
}

#[test]
fn json_lines_carry_every_field() {
    let d = sample_tree();
    let r = fcap_run([
        os("read"),
        os("--json"),
        d.path().join("mixed").as_os_str(),
        d.path().join("ns").as_os_str(),
    ]);
    r.ok();
    let v: Vec<serde_json::Value> = r.json_lines();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["path"], d.path().join("mixed").to_str().unwrap());
    assert_eq!(v[0]["caps"], "cap_kill=ei cap_chown+ep");
    assert_eq!(v[0]["permitted"], serde_json::json!(["cap_chown"]));
    assert_eq!(v[0]["inheritable"], serde_json::json!(["cap_kill"]));
    assert_eq!(v[0]["effective"], true);
    assert_eq!(v[0]["version"], 2);
    assert_eq!(v[0]["rootid"], serde_json::Value::Null);
    assert_eq!(v[1]["version"], 3);
    assert_eq!(v[1]["rootid"], 1000);
}

#[test]
fn awkward_names_are_escaped_and_never_split_into_fake_lines() {
    require_root();
    let d = tempdir();
    let raw: &[u8] = b"evil\nfake cap_sys_admin=ep\x1b[2J\xff";
    let p = d.path().join(OsStr::from_bytes(raw));
    std::fs::copy("/bin/true", &p).unwrap();
    setcap_on(&p, &["cap_chown=p"]);
    let r = fcap_run([os("read"), os("-r"), d.path().as_os_str()]);
    r.ok().stdout_is(&format!(
        "{}/evil\\nfake cap_sys_admin=ep\\x1b[2J\\xff cap_chown=p\n",
        d.path().display()
    ));
    let r = fcap_run([os("read"), os("--json"), p.as_os_str()]);
    let v: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    let back = fcap::output::unescape_path(v["path"].as_str().unwrap()).unwrap();
    assert_eq!(back, p);
}

#[test]
fn long_view_names_each_capability() {
    let d = sample_tree();
    let r = fcap_run([
        os("read"),
        os("-l"),
        os("--color"),
        os("never"),
        d.path().join("mixed").as_os_str(),
    ]);
    r.ok();
    let out = r.stdout();
    assert!(
        out.starts_with(&format!(
            "{}/mixed  cap_kill=ei cap_chown+ep\n",
            d.path().display()
        )),
        "{out}"
    );
    assert!(out.contains("cap_chown  permitted,effective "), "{out}");
    assert!(out.contains("cap_kill   inheritable,effective "), "{out}");
    assert!(!out.contains('\x1b'));
    let r = fcap_run([
        os("read"),
        os("-l"),
        os("--color"),
        os("always"),
        d.path().join("mixed").as_os_str(),
    ]);
    assert!(r.stdout().contains("\x1b["));
    // NO_COLOR only affects `auto`, and a pipe is never a terminal anyway.
    let mut c = fcap();
    c.env("NO_COLOR", "1")
        .args([os("read"), os("-l"), d.path().join("mixed").as_os_str()]);
    assert!(!run(c).stdout().contains('\x1b'));
}

#[test]
fn dereference_follows_a_symlink_named_on_the_command_line() {
    let d = sample_tree();
    let link = d.path().join("link");
    fcap_run([os("read"), link.as_os_str()]).ok().stdout_is("");
    fcap_run([os("read"), os("-L"), link.as_os_str()])
        .ok()
        .stdout_is(&format!("{} cap_net_raw=ep\n", link.display()));
}

#[test]
fn zero_length_value_is_reported_as_hidden_not_refused() {
    require_root();
    // Written offline: this kernel refuses a zero-length value through setxattr.
    let (_fs, p) = offline_file(&[], "");
    let r = fcap_run([os("read"), p.as_os_str()]);
    r.status(2).stdout_is("");
    let err = r.stderr();
    assert!(
        err.starts_with(&format!("fcap: '{}': ", p.display())),
        "{err}"
    );
    assert!(err.contains("may still grant capabilities"), "{err}");
}

#[test]
fn broken_pipe_is_not_an_error() {
    let d = sample_tree();
    let mut c = std::process::Command::new("sh");
    c.arg("-c").arg(format!(
        "'{}' read -r -v /usr '{}' | head -c 1 >/dev/null; echo \"${{PIPESTATUS[0]}}\"",
        env!("CARGO_BIN_EXE_fcap"),
        d.path().display()
    ));
    // PIPESTATUS is bash; use bash explicitly.
    let mut c2 = std::process::Command::new("bash");
    c2.args(c.get_args());
    let r = run(c2);
    assert_eq!(r.stdout().trim(), "0", "stderr: {}", r.stderr());
    assert_eq!(r.stderr(), "");
}

/// A tmpfs mounted for one test, unmounted when dropped (even on failure).
struct Mount(std::path::PathBuf);

impl Mount {
    fn tmpfs(at: &Path, opts: &str) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        let r = run({
            let mut c = std::process::Command::new("mount");
            c.args(["-t", "tmpfs", "-o", opts, "fcap-test"]).arg(at);
            c
        });
        r.ok();
        Mount(at.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn one_file_system_stays_on_the_root_filesystem() {
    let d = sample_tree();
    let mnt = d.path().join("mnt");
    let _m = Mount::tmpfs(&mnt, "mode=755");
    setcap_on(&copy_prog(&mnt, "inner"), &["cap_kill=p"]);
    let inner = format!("{}/mnt/inner cap_kill=p", d.path().display());
    let all = fcap_run([os("read"), os("-r"), d.path().as_os_str()]);
    assert!(all.ok().stdout().contains(&inner), "{}", all.stdout());
    assert_eq!(
        line_set(&all.stdout()),
        line_set(&getcap(&[os("-r"), d.path().as_os_str()]))
    );
    let x = fcap_run([os("read"), os("-r"), os("-x"), d.path().as_os_str()]);
    assert!(!x.ok().stdout().contains("inner"), "{}", x.stdout());
    assert!(x.stdout().contains("/ping cap_net_raw=ep"));
}

#[test]
fn pseudo_filesystems_are_not_walked() {
    let d = tempdir();
    let proc_mnt = d.path().join("proc");
    std::fs::create_dir(&proc_mnt).unwrap();
    let r = run({
        let mut c = std::process::Command::new("mount");
        c.args(["-t", "proc", "proc"]).arg(&proc_mnt);
        c
    });
    r.ok();
    let _m = Mount(proc_mnt.clone());
    let v = fcap_run([os("read"), os("-r"), os("-v"), d.path().as_os_str()]);
    v.ok();
    // The mount point itself is listed, but nothing below it.
    assert!(
        !v.stdout().contains("/proc/"),
        "walked into procfs: {}",
        &v.stdout()[..v.stdout().len().min(300)]
    );
}

/// Every file carries another attribute (as under SELinux, every file has a label):
/// asking each file only whether it has attributes would cost a second call per
/// file, so the scan soon lists names instead. The findings stay getcap's, and
/// `getxattrat` is called for few files besides the capable ones.
#[test]
fn recursive_read_of_labelled_files_is_exact_and_lists_names() {
    require_root();
    let d = tempdir();
    let t = d.path();
    let files = 400;
    for i in 0..files {
        let p = t.join(format!("f{i}"));
        std::fs::write(&p, b"x").unwrap();
        xattr::set(&p, "user.label", b"system_u:object_r:bin_t:s0").unwrap();
        if i % 37 == 0 {
            setcap_on(&p, &["cap_net_raw=ep"]);
        }
    }
    let want = getcap(&[os("-r"), t.as_os_str()]);
    assert_eq!(want.lines().count(), 11);

    let logs = tempdir();
    let log = logs.path().join("strace.log");
    let mut c = std::process::Command::new("strace");
    c.args([os("-f"), os("-qq"), os("-o"), log.as_os_str()])
        .arg(fcap().get_program())
        .args([os("read"), os("-r"), t.as_os_str()])
        // One worker sees every file, so the switch happens at a known point.
        .env("FCAP_SCAN_THREADS", "1");
    let r = run(c);
    r.ok();
    assert_eq!(line_set(&r.stdout()), line_set(&want));
    let log = std::fs::read_to_string(&log).unwrap();
    // strace 6.1 has no name for getxattrat (464 = 0x1d0); later ones do.
    let calls = |name: &str, number: &str| {
        log.lines()
            .filter(|l| l.contains(&format!("{name}(")) || l.contains(&format!("{number}(")))
            .count()
    };
    let get = calls("getxattrat", "syscall_0x1d0");
    let list = calls("listxattrat", "syscall_0x1d1");
    assert_eq!(list, files, "one listxattrat per file");
    assert!(
        (11..files / 4).contains(&get),
        "getxattrat for {get} of {files} labelled files"
    );
}

/// On a terminal, a scan that takes a while shows "files seen, hits so far" on
/// stderr and erases it at the end; stdout is untouched, and with stderr not a
/// terminal nothing is shown. strace slows the scan of /usr well past the
/// half-second after which the line appears.
#[test]
fn progress_line_shows_on_a_terminal_only_and_is_erased() {
    let d = tempdir();
    let out = d.path().join("out");
    let bin = fcap().get_program().to_owned();
    let cmd = format!(
        "strace -f -o /dev/null '{}' read -r /usr > '{}'",
        Path::new(&bin).display(),
        out.display()
    );
    let mut c = std::process::Command::new("script");
    c.args(["-qec", &cmd, "/dev/null"]).env("LC_ALL", "C");
    // What script copies from the terminal is fcap's stderr alone.
    let tty = run(c);
    tty.ok();
    let shown = tty.stdout();
    let lines: Vec<&str> = shown.split("\r\x1b[K").filter(|l| !l.is_empty()).collect();
    assert!(!lines.is_empty(), "no progress line in {shown:?}");
    for l in &lines {
        let rest = l
            .strip_prefix("fcap: scanning: ")
            .unwrap_or_else(|| panic!("{l:?}"));
        let (files, hits) = rest
            .strip_suffix(" with capabilities")
            .and_then(|r| r.split_once(" files, "))
            .unwrap_or_else(|| panic!("{l:?}"));
        assert!(files.parse::<u64>().unwrap() > 0 && hits.parse::<u64>().is_ok());
    }
    assert!(shown.ends_with("\r\x1b[K"), "not erased: {shown:?}");

    let plain = fcap_run([os("read"), os("-r"), os("/usr")]);
    plain.ok();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), plain.stdout());
    // Slow again, but stderr is a pipe: nothing but the findings.
    let mut c = std::process::Command::new("strace");
    c.args(["-f", "-o", "/dev/null"])
        .arg(&bin)
        .args(["read", "-r", "/usr"]);
    let piped = run(c);
    piped.ok().stderr_is("");
    assert_eq!(piped.stdout(), plain.stdout());
}
