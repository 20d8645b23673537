//! `fcap grant`, `revoke` and `set` on real files, with libcap's `getcap`/`setcap` as the
//! oracle for what was written, real mounts for the filesystem errors, real exec as
//! `nobody` for the privilege errors and for the mission (node binding port < 1024).

use crate::text_oracle::{Rng, expression};
use crate::util::*;
use fcap::filecaps::FileCaps;
use std::ffi::OsStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// getcap's text for one file ("" when it has none).
fn caps_of(p: &Path) -> String {
    let line = getcap(&[p.as_os_str()]);
    let prefix = format!("{} ", p.display());
    line.trim_end()
        .strip_prefix(&prefix)
        .unwrap_or(line.trim_end())
        .to_string()
}

fn p(path: &Path) -> &OsStr {
    path.as_os_str()
}

/// The bytes `setcap TEXT` stores, written on a scratch copy.
fn setcap_bytes(dir: &Path, text: &str, rootid: Option<u32>) -> Vec<u8> {
    let f = copy_prog(dir, "setcap-scratch");
    let r = rootid.map(|r| r.to_string());
    let mut args: Vec<&OsStr> = Vec::new();
    if let Some(r) = &r {
        args.extend([os("-n"), os(r)]);
    }
    args.extend([os(text), p(&f)]);
    setcap(&args).ok();
    let b = raw_xattr(&f).unwrap();
    std::fs::remove_file(&f).unwrap();
    b
}

/// The errno reading `security.capability` fails with, if it fails.
fn raw_errno(p: &Path) -> Option<i32> {
    xattr::get(p, "security.capability")
        .err()
        .and_then(|e| e.raw_os_error())
}

fn ctime(p: &Path) -> (i64, i64) {
    let m = std::fs::metadata(p).unwrap();
    (m.ctime(), m.ctime_nsec())
}

// ---------------------------------------------------------------- grant

#[test]
fn grant_adds_to_what_the_file_has_and_writes_what_setcap_would() {
    require_root();
    let d = tempdir();
    let f = copy_prog(d.path(), "prog");
    setcap(&[os("cap_chown=ep"), p(&f)]).ok();
    fcap_run([os("grant"), os("net_raw"), p(&f)])
        .ok()
        .stdout_is(&format!(
            "{}: cap_chown,cap_net_raw=ep (was cap_chown=ep)\n",
            f.display()
        ));
    assert_eq!(caps_of(&f), "cap_chown,cap_net_raw=ep");
    assert_eq!(
        raw_xattr(&f).unwrap(),
        setcap_bytes(d.path(), "cap_chown,cap_net_raw=ep", None)
    );
    // Non-effective sets merge too, and the other sets are kept.
    let g = copy_prog(d.path(), "prog2");
    setcap(&[os("cap_kill=i"), p(&g)]).ok();
    fcap_run([os("grant"), os("cap_setuid=p"), p(&g)]).ok();
    fcap_run([os("grant"), os("cap_kill=p"), p(&g)]).ok();
    assert_eq!(caps_of(&g), "cap_kill=ip cap_setuid+p");
}

#[test]
fn grant_accepts_the_spellings_users_write_for_setcap() {
    require_root();
    let d = tempdir();
    for (spec, want) in [
        ("net_raw", "cap_net_raw=ep"),
        ("CAP_NET_RAW", "cap_net_raw=ep"),
        ("cap_net_raw=ep", "cap_net_raw=ep"),
        ("cap_net_raw+ep", "cap_net_raw=ep"),
        ("cap_net_raw=+ep", "cap_net_raw=ep"),
        ("net_admin,net_raw=eip", "cap_net_admin,cap_net_raw=eip"),
        ("cap_setuid=p", "cap_setuid=p"),
        ("cap_kill=i", "cap_kill=i"),
        ("13", "cap_net_raw=ep"),
        ("0x0d,5=p", "cap_kill,cap_net_raw=p"),
        ("41=p", "= 41+p"),
    ] {
        let f = copy_prog(d.path(), "prog");
        fcap_run([os("grant"), os(spec), p(&f)]).ok();
        assert_eq!(caps_of(&f), want, "fcap grant {spec}");
        std::fs::remove_file(&f).unwrap();
    }
}

#[test]
fn grant_refuses_to_change_the_single_effective_flag_and_names_both_ways_out() {
    require_root();
    let d = tempdir();
    let f = copy_prog(d.path(), "prog");
    setcap(&[os("cap_chown=ep"), p(&f)]).ok();
    let before = raw_xattr(&f);
    let r = fcap_run([os("grant"), os("cap_net_raw=p"), p(&f)]);
    r.status(2)
        .stdout_is("")
        .stderr_has(&format!(
            "fcap: '{}': cannot grant cap_net_raw=p",
            f.display()
        ))
        .stderr_has("one effective flag")
        .stderr_has(&format!("fcap grant cap_net_raw=ep '{}'", f.display()))
        .stderr_has(&format!(
            "fcap set cap_chown,cap_net_raw=p '{}'",
            f.display()
        ));
    assert_eq!(raw_xattr(&f), before, "nothing may be written");

    // The other direction: the flag is off, the grant wants it on.
    setcap(&[os("cap_chown=p"), p(&f)]).ok();
    fcap_run([os("grant"), os("net_raw"), p(&f)])
        .status(2)
        .stderr_has("would make cap_chown effective too")
        .stderr_has(&format!("fcap grant cap_net_raw=p '{}'", f.display()))
        .stderr_has(&format!(
            "fcap set cap_chown,cap_net_raw=ep '{}'",
            f.display()
        ));
    assert_eq!(caps_of(&f), "cap_chown=p");
    // Listing every existing capability makes the change explicit, so it is allowed.
    fcap_run([os("grant"), os("chown,net_raw=ep"), p(&f)]).ok();
    assert_eq!(caps_of(&f), "cap_chown,cap_net_raw=ep");
}

#[test]
fn a_second_grant_is_a_byte_identical_no_op_that_says_unchanged() {
    require_root();
    let d = tempdir();
    let f = copy_prog(d.path(), "prog");
    fcap_run([os("grant"), os("net_bind_service"), p(&f)]).ok();
    let (bytes, t) = (raw_xattr(&f).unwrap(), ctime(&f));
    fcap_run([os("grant"), os("net_bind_service"), p(&f)])
        .ok()
        .stdout_is(&format!(
            "{}: cap_net_bind_service=ep (unchanged)\n",
            f.display()
        ));
    assert_eq!(raw_xattr(&f).unwrap(), bytes);
    // No xattr write happened at all (a write would update the inode's ctime).
    assert_eq!(ctime(&f), t);
    let j = fcap_run([os("grant"), os("net_bind_service"), os("--json"), p(&f)]);
    let v: serde_json::Value = serde_json::from_str(j.ok().stdout().trim()).unwrap();
    assert_eq!(v["changed"], false);
    // The same for revoke.
    fcap_run([os("revoke"), os("all"), p(&f)]).ok();
    fcap_run([os("revoke"), os("all"), p(&f)])
        .ok()
        .stdout_is(&format!("{}: none (unchanged)\n", f.display()));
}

#[test]
fn grant_follows_a_symlink_and_names_the_real_file() {
    require_root();
    let d = tempdir();
    let f = copy_prog(d.path(), "node-22");
    let link = d.path().join("node");
    std::os::unix::fs::symlink("node-22", &link).unwrap();
    let r = fcap_run([os("grant"), os("kill"), p(&link)]);
    r.ok().stdout_is(&format!(
        "{} -> {}: cap_kill=ep (was none)\n",
        link.display(),
        f.display()
    ));
    assert_eq!(caps_of(&f), "cap_kill=ep");
    // --no-dereference refuses the link and writes nothing.
    let g = copy_prog(d.path(), "other");
    let link2 = d.path().join("other-link");
    std::os::unix::fs::symlink("other", &link2).unwrap();
    fcap_run([os("grant"), os("--no-dereference"), os("kill"), p(&link2)])
        .status(2)
        .stderr_has(&format!("fcap: '{}': is a symbolic link", link2.display()));
    assert_eq!(raw_xattr(&g), None);
}

// ---------------------------------------------------------------- revoke

#[test]
fn revoke_removes_from_every_set_and_removes_the_attribute_when_nothing_is_left() {
    require_root();
    let d = tempdir();
    let f = copy_prog(d.path(), "prog");
    setcap(&[os("cap_chown,cap_kill=eip cap_net_raw+ep"), p(&f)]).ok();
    fcap_run([os("revoke"), os("kill"), p(&f)]).ok();
    assert_eq!(caps_of(&f), "cap_chown=eip cap_net_raw+ep");
    // A capability the file lacks: not an error, nothing written.
    let t = ctime(&f);
    fcap_run([os("revoke"), os("sys_admin"), p(&f)])
        .ok()
        .stdout_is(&format!(
            "{}: cap_chown=eip cap_net_raw+ep (unchanged)\n",
            f.display()
        ));
    assert_eq!(ctime(&f), t);
    fcap_run([os("revoke"), os("chown,net_raw"), p(&f)])
        .ok()
        .stdout_is(&format!(
            "{}: none (was cap_chown=eip cap_net_raw+ep)\n",
            f.display()
        ));
    // Removed, not left as an empty "=" value.
    assert_eq!(raw_xattr(&f), None);
    assert_eq!(caps_of(&f), "");
}

#[test]
fn revoke_all_and_revoke_of_an_empty_value_leave_nothing_behind() {
    require_root();
    let d = tempdir();
    let f = copy_prog(d.path(), "prog");
    setcap(&[os("=eip 41,63+eip"), p(&f)]).ok();
    assert_eq!(caps_of(&f), "=eip 41,63+eip");
    fcap_run([os("revoke"), os("all"), p(&f)]).ok();
    assert_eq!(raw_xattr(&f), None);
    // setcap can leave "=" (20 zero bytes) behind; revoking anything removes it.
    setcap(&[os("="), p(&f)]).ok();
    assert!(raw_xattr(&f).is_some());
    fcap_run([os("revoke"), os("net_raw"), p(&f)])
        .ok()
        .stdout_is(&format!("{}: none (was =)\n", f.display()));
    assert_eq!(raw_xattr(&f), None);
    // A file without capabilities: unchanged, exit 0 (setcap -r would fail here).
    fcap_run([os("revoke"), os("all"), p(&f)]).ok();
}

#[test]
fn rootid_writes_v3_and_grant_and_revoke_keep_it() {
    require_root();
    let d = tempdir();
    let f = copy_prog(d.path(), "prog");
    fcap_run([
        os("grant"),
        os("--rootid"),
        os("1000"),
        os("chown,kill"),
        p(&f),
    ])
    .ok();
    assert_eq!(
        raw_xattr(&f).unwrap(),
        setcap_bytes(d.path(), "cap_chown,cap_kill=ep", Some(1000))
    );
    fcap_run([os("grant"), os("net_raw"), p(&f)]).ok();
    fcap_run([os("revoke"), os("kill"), p(&f)]).ok();
    assert_eq!(
        getcap(&[os("-n"), p(&f)]),
        format!("{} cap_chown,cap_net_raw=ep [rootid=1000]\n", f.display())
    );
    fcap_run([
        os("set"),
        os("--rootid"),
        os("65534"),
        os("cap_kill=p"),
        p(&f),
    ])
    .ok();
    assert_eq!(
        raw_xattr(&f).unwrap(),
        setcap_bytes(d.path(), "cap_kill=p", Some(65534))
    );
    fcap_run([os("grant"), os("--rootid"), os("0"), os("kill"), p(&f)]).status(2);
}

// ---------------------------------------------------------------- set

/// setcap treats these arguments as options (and fcap reads '-' from stdin).
fn setcap_option(s: &str) -> bool {
    matches!(s, "-r" | "-" | "-q" | "-v" | "-n" | "-h" | "--license") || s.is_empty()
}

#[test]
fn set_writes_exactly_the_bytes_setcap_writes_on_generated_expressions() {
    require_root();
    let d = tempdir();
    let a = copy_prog(d.path(), "by-setcap");
    let b = copy_prog(d.path(), "by-fcap");
    let mut r = Rng::new(0x0dd_ba11);
    let mut exprs: Vec<String> = (0..500).map(|_| expression(&mut r)).collect();
    exprs.extend(
        [
            "=",
            "=ep",
            "all=eip",
            "cap_chown=e",
            "=eip cap_chown-ip",
            "cap_chown=ep cap_net_raw=p",
            "41,63=p",
            "-ep",
            "net_raw,CAP_CHOWN=PE",
            "NET_ADMIN+Ep",
            "chown,0xd=I",
        ]
        .map(String::from),
    );
    let (mut same_ok, mut same_err, mut grant_spelling) = (0, 0, 0);
    for e in exprs.iter().filter(|e| !setcap_option(e)) {
        // Start both from the same known value, so a refused write is visible.
        set_raw_xattr(&a, &FileCaps::EMPTY.encode()).unwrap();
        set_raw_xattr(&b, &FileCaps::EMPTY.encode()).unwrap();
        let mut lib = setcap(&[os(e), p(&a)]);
        let ours = fcap_run([os("set"), os("--"), os(e), p(&b)]);
        // One clause in grant's spelling (`net_raw=E...`), which setcap refuses, is the
        // value setcap writes for the canonical text of what grant reads there.
        if lib.code() != 0
            && let Ok(spec) = fcap::capspec::parse_grant(e.trim())
        {
            lib = setcap(&[os(&spec.to_string()), p(&a)]);
            assert_eq!(lib.code(), 0, "setcap refuses {spec} (from {e:?})");
            grant_spelling += 1;
        }
        assert_eq!(
            lib.code() == 0,
            ours.code() == 0,
            "accept/reject differs for {e:?}\nsetcap: {}\nfcap: {}{}",
            lib.stderr(),
            ours.stdout(),
            ours.stderr()
        );
        assert_eq!(raw_xattr(&a), raw_xattr(&b), "bytes for {e:?}");
        if ours.code() == 0 {
            same_ok += 1;
        } else {
            assert_eq!(ours.code(), 2, "{e:?}");
            assert!(ours.stderr().starts_with("fcap: "), "{}", ours.stderr());
            same_err += 1;
        }
    }
    assert!(
        same_ok >= 150 && same_err >= 100 && grant_spelling >= 3,
        "{same_ok} accepted ({grant_spelling} in grant's spelling), {same_err} refused"
    );
}

#[test]
fn set_explains_a_mixed_effective_flag_where_setcap_says_invalid_file() {
    require_root();
    let d = tempdir();
    let f = copy_prog(d.path(), "prog");
    fcap_run([os("set"), os("cap_chown=ep cap_net_raw=p"), p(&f)])
        .status(2)
        .stdout_is("")
        .stderr_has("one effective flag")
        .stderr_has("'cap_chown,cap_net_raw=ep'")
        .stderr_has("'cap_chown,cap_net_raw=p'");
    assert_eq!(raw_xattr(&f), None);
    fcap_run([os("set"), os("cap_chown=pq"), p(&f)])
        .status(2)
        .stderr_has("invalid capability text 'cap_chown=pq'");
}

#[test]
fn set_reads_the_expression_from_stdin_like_setcap_dash() {
    require_root();
    let d = tempdir();
    let f = copy_prog(d.path(), "prog");
    let mut c = fcap();
    c.args([os("set"), os("-"), p(&f)])
        .stdin(std::process::Stdio::piped());
    let mut child = c.stdout(std::process::Stdio::piped()).spawn().unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"cap_setuid=ep\n\ncap_kill=ep\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    assert_eq!(caps_of(&f), "cap_kill,cap_setuid=ep");
}

/// `COMMAND - FILE` with `input` on standard input (from a file).
fn with_stdin(c: Command, dir: &Path, input: &[u8]) -> Run {
    let src = dir.join("stdin");
    std::fs::write(&src, input).unwrap();
    run_bounded_with(c, std::fs::File::open(&src).unwrap().into(), "")
}

/// setcap refuses `-` with nothing before the first empty line (usage, exit 1) and
/// writes nothing; fcap set must refuse too (exit 2), not store `=`. setcap is the
/// oracle for which inputs count as empty.
#[test]
fn set_dash_with_empty_stdin_is_refused_like_setcap() {
    require_root();
    let d = tempdir();
    let capped = copy_prog(d.path(), "capped");
    setcap(&[os("cap_kill=p"), p(&capped)]).ok();
    let bare = copy_prog(d.path(), "bare");
    let scratch = copy_prog(d.path(), "scratch");
    for input in [&b""[..], b"\n", b"\ncap_chown=ep\n"] {
        let mut c = Command::new("setcap");
        c.args([os("-q"), os("-"), p(&scratch)]);
        let oracle = with_stdin(c, d.path(), input);
        assert_eq!(oracle.code(), 1, "setcap accepted {input:?}");
        assert_eq!(raw_xattr(&scratch), None);
        let before = raw_xattr(&capped);
        let mut c = fcap();
        c.args([os("set"), os("-"), p(&capped), p(&bare)])
            .env("LC_ALL", "C");
        with_stdin(c, d.path(), input)
            .status(2)
            .stderr_is("fcap: no capability text on standard input (it was empty, or began with an empty line, which ends it as in setcap); nothing was written. To store an empty value on purpose, give '=' as EXPR\n")
            .stdout_is("");
        assert_eq!(raw_xattr(&capped), before, "{input:?}");
        assert_eq!(raw_xattr(&bare), None, "{input:?}");
    }
    // Blank but not empty is text for setcap (it stores '='), and for fcap.
    let mut c = fcap();
    c.args([os("set"), os("-"), p(&bare)]);
    with_stdin(c, d.path(), b" \n").ok();
    assert_eq!(caps_of(&bare), "=");
}

/// setcap's `CAPS FILE CAPS FILE` form given to `fcap set` (Debian's
/// monitoring-plugins-basic postinst writes exactly this) must write nothing at all,
/// rather than give both files the first expression.
#[test]
fn set_refuses_setcaps_multi_pair_form_before_writing_anything() {
    require_root();
    let d = tempdir();
    let q1 = copy_prog(d.path(), "q1");
    let q2 = copy_prog(d.path(), "q2");
    setcap(&[os("cap_kill=p"), p(&q2)]).ok();
    // Even a file that happens to carry the name is not taken as one.
    copy_prog(d.path(), "cap_chown=ep");
    let before = (raw_xattr(&q1), raw_xattr(&q2));
    for extra in [&[][..], &[os("--dry-run")], &[os("--check")]] {
        let mut c = fcap();
        c.current_dir(d.path()).arg("set").args(extra).args([
            "cap_net_raw=ep",
            "q1",
            "cap_chown=ep",
            "q2",
        ]);
        run(c)
            .status(2)
            .stderr_has("fcap: 'cap_chown=ep' is capability text, not a file")
            .stderr_has("Use 'fcap setcap' for that form")
            .stdout_is("");
        assert_eq!((raw_xattr(&q1), raw_xattr(&q2)), before);
    }
    assert_eq!(raw_xattr(&d.path().join("cap_chown=ep")), None);
    // The hint's way to name such a file works.
    let mut c = fcap();
    c.current_dir(d.path())
        .args(["set", "cap_net_raw=ep", "q1", "./cap_chown=ep"]);
    run(c).ok();
    assert_eq!(caps_of(&d.path().join("cap_chown=ep")), "cap_net_raw=ep");
    // And the drop-in the hint names gives each file its own capabilities.
    let mut c = fcap();
    c.current_dir(d.path())
        .args(["setcap", "cap_net_raw=ep", "q1", "cap_chown=ep", "q2"]);
    run(c).ok();
    assert_eq!(caps_of(&q1), "cap_net_raw=ep");
    assert_eq!(caps_of(&q2), "cap_chown=ep");
}

#[test]
fn set_check_writes_nothing_and_exits_1_when_a_file_differs() {
    require_root();
    let d = tempdir();
    let a = copy_prog(d.path(), "a");
    let b = copy_prog(d.path(), "b");
    setcap(&[os("cap_net_raw=ep"), p(&a)]).ok();
    fcap_run([os("set"), os("--check"), os("cap_net_raw+ep"), p(&a)])
        .ok()
        .stdout_is(&format!("{}: OK\n", a.display()));
    let t = ctime(&b);
    fcap_run([os("set"), os("--check"), os("cap_net_raw=ep"), p(&a), p(&b)])
        .status(1)
        .stdout_is(&format!(
            "{}: OK\n{}: differs: is none, expression gives cap_net_raw=ep\n",
            a.display(),
            b.display()
        ));
    assert_eq!(raw_xattr(&b), None);
    assert_eq!(ctime(&b), t);
    fcap_run([os("set"), os("--check"), os("cap_chown=p"), p(&a)])
        .status(1)
        .stdout_is(&format!(
            "{}: differs: is cap_net_raw=ep, expression gives cap_chown=p\n",
            a.display()
        ));
}

#[test]
fn dry_run_and_json_report_without_writing() {
    require_root();
    let d = tempdir();
    let f = copy_prog(d.path(), "prog");
    let link = d.path().join("link");
    std::os::unix::fs::symlink("prog", &link).unwrap();
    setcap(&[os("cap_chown=ep"), p(&f)]).ok();
    let t = ctime(&f);
    fcap_run([os("grant"), os("--dry-run"), os("kill"), p(&f)])
        .ok()
        .stdout_is(&format!(
            "{}: cap_chown,cap_kill=ep (was cap_chown=ep; dry run, nothing written)\n",
            f.display()
        ));
    fcap_run([os("revoke"), os("--dry-run"), os("all"), p(&f)]).ok();
    fcap_run([os("set"), os("--dry-run"), os("cap_kill=p"), p(&f)]).ok();
    assert_eq!(caps_of(&f), "cap_chown=ep");
    assert_eq!(ctime(&f), t);
    let r = fcap_run([os("grant"), os("--json"), os("kill"), p(&link), p(&f)]);
    let lines: Vec<serde_json::Value> = r.ok().json_lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        serde_json::json!({
            "path": link.to_str().unwrap(),
            "target": f.to_str().unwrap(),
            "before": "cap_chown=ep",
            "after": "cap_chown,cap_kill=ep",
            "changed": true,
            "warnings": [],
        })
    );
    assert_eq!(lines[1]["changed"], false);
    let r = fcap_run([os("revoke"), os("--json"), os("all"), p(&f)]);
    let v: serde_json::Value = serde_json::from_str(r.ok().stdout().trim()).unwrap();
    assert_eq!(v["after"], serde_json::Value::Null);
}

// ---------------------------------------------------------------- malformed values

#[test]
fn a_malformed_value_is_refused_by_grant_and_revoke_and_replaced_by_set_and_revoke_all() {
    // Zero-length values, written offline: this kernel refuses them through setxattr.
    let empty = |name| OfflineFile {
        name,
        src: Path::new("/bin/true"),
        mode: 0o755,
        owner: (0, 0),
        value: Some(&[]),
    };
    let fs = OfflineFs::new(&[empty("prog"), empty("again")], "");
    let f = fs.path("prog");
    for args in [["grant", "kill"], ["revoke", "kill"]] {
        fcap_run([os(args[0]), os(args[1]), p(&f)])
            .status(2)
            .stderr_has(&format!(
                "fcap: '{}': security.capability value hidden by the kernel",
                f.display()
            ))
            .stderr_has("fcap set EXPR")
            .stderr_has("fcap revoke all");
        // Still there: the kernel keeps refusing to hand it out.
        assert_eq!(raw_errno(&f), Some(libc::EINVAL));
    }
    fcap_run([os("revoke"), os("all"), p(&f)])
        .ok()
        .stdout_is(&format!("{}: none (was a malformed value)\n", f.display()));
    assert_eq!(raw_xattr(&f), None);
    let f = fs.path("again");
    assert_eq!(raw_errno(&f), Some(libc::EINVAL));
    fcap_run([os("set"), os("cap_kill=p"), p(&f)]).ok();
    assert_eq!(caps_of(&f), "cap_kill=p");
}

// ---------------------------------------------------------------- errors

/// Each bad path fails on its own line; the good file after it is still written.
#[track_caller]
fn fails_alone(bad: &Path, cause: &str) {
    let d = tempdir();
    let good = copy_prog(d.path(), "good");
    let r = fcap_run([os("grant"), os("kill"), p(bad), p(&good)]);
    r.status(2)
        .stderr_has(&format!("fcap: '{}': {cause}", bad.display()))
        .stdout_is(&format!("{}: cap_kill=ep (was none)\n", good.display()));
    assert_eq!(caps_of(&good), "cap_kill=ep");
}

#[test]
fn non_regular_missing_and_looping_paths_fail_with_their_own_cause() {
    require_root();
    let d = tempdir();
    let dir = d.path();
    fails_alone(&dir.join("missing"), "No such file or directory");
    std::fs::create_dir(dir.join("sub")).unwrap();
    fails_alone(&dir.join("sub"), "not a regular file (a directory)");
    let fifo = dir.join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    // A fifo must not hang the tool (nobody ever opens the other end).
    fails_alone(&fifo, "not a regular file (a fifo)");
    let sock = dir.join("sock");
    let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    fails_alone(&sock, "not a regular file (a socket)");
    let null_before = raw_xattr(Path::new("/dev/null"));
    fails_alone(
        Path::new("/dev/null"),
        "not a regular file (a character device)",
    );
    assert_eq!(raw_xattr(Path::new("/dev/null")), null_before);
    std::os::unix::fs::symlink("loop-b", dir.join("loop-a")).unwrap();
    std::os::unix::fs::symlink("loop-a", dir.join("loop-b")).unwrap();
    fails_alone(&dir.join("loop-a"), "symbolic link loop");
    std::os::unix::fs::symlink("nowhere", dir.join("dangling")).unwrap();
    fails_alone(&dir.join("dangling"), "dangling symbolic link");
}

#[test]
fn bad_capability_lists_fail_before_touching_any_file() {
    require_root();
    let d = tempdir();
    let f = copy_prog(d.path(), "prog");
    for (spec, msg) in [
        (
            "net_rw",
            "fcap: unknown capability 'net_rw' (did you mean 'cap_net_raw'?)",
        ),
        ("", "fcap: empty capability list"),
        (",", "fcap: empty item in capability list"),
        ("64", "fcap: capability number 64 is out of range"),
        ("net_raw=e", "'e' alone grants nothing"),
        ("net_raw-ep", "use 'fcap revoke'"),
    ] {
        fcap_run([os("grant"), os(spec), p(&f)])
            .status(2)
            .stdout_is("")
            .stderr_has(msg);
    }
    fcap_run([os("revoke"), os("cap_net_raw=ep"), p(&f)])
        .status(2)
        .stderr_has("takes no flags");
    // Swapped arguments get a pointer to the right order.
    fcap_run([os("grant"), p(&f), os("net_raw")])
        .status(2)
        .stderr_has("is a file: the capabilities come first (fcap grant CAPS PATH...)");
    assert_eq!(raw_xattr(&f), None);
}

/// A mount made for one test, unmounted even when the test fails.
struct Mount(PathBuf);

impl Mount {
    fn new(fstype: &str, at: &Path) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        let st = Command::new("mount")
            .args([os("-t"), os(fstype), os("none"), at.as_os_str()])
            .status()
            .unwrap();
        assert!(st.success(), "mount -t {fstype} failed");
        Mount(at.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_filesystem_without_xattrs_is_named() {
    require_root();
    let d = tempdir();
    let m = Mount::new("ramfs", &d.path().join("ram"));
    let f = copy_prog(&m.0, "prog");
    fails_alone(&f, "Operation not supported: ramfs does not support");
    assert_eq!(raw_errno(&f), Some(libc::ENOTSUP));
}

/// fcap links musl, but words every errno as glibc does (the oracle: Python's
/// `os.strerror`, which is glibc's `strerror` on Debian), for the numbers Linux has and
/// one past them.
#[test]
fn errno_messages_are_glibcs() {
    let mut c = Command::new("/usr/bin/python3");
    c.args([
        "-c",
        "import os\nfor i in range(0, 135): print(os.strerror(i))",
    ]);
    let glibc = run(c).ok().stdout();
    let glibc: Vec<&str> = glibc.lines().collect();
    assert_eq!(glibc.len(), 135);
    for (i, want) in glibc.iter().enumerate() {
        assert_eq!(fcap::error::errno_message(i as i32), *want, "errno {i}");
    }
    assert_eq!(fcap::error::errno_message(-1), "Unknown error -1");
    // And through the path every I/O error takes.
    let e = std::io::Error::from_raw_os_error(libc::ENAMETOOLONG);
    assert_eq!(fcap::error::strerror(&e), "File name too long");
}

#[test]
fn a_read_only_filesystem_is_refused_with_a_hint() {
    require_root();
    let d = tempdir();
    let m = Mount::new("tmpfs", &d.path().join("ro"));
    let f = copy_prog(&m.0, "prog");
    let st = Command::new("mount")
        .args([os("-o"), os("remount,ro"), m.0.as_os_str()])
        .status()
        .unwrap();
    assert!(st.success());
    fails_alone(
        &f,
        "Read-only file system: the filesystem is mounted read-only",
    );
    fcap_run([os("set"), os("cap_kill=p"), p(&f)])
        .status(2)
        .stderr_has("read-only");
}

/// A copy of the fcap binary that `nobody` can execute.
fn fcap_copy(dir: &Path) -> PathBuf {
    let bin = dir.join("fcap");
    cp(Path::new(env!("CARGO_BIN_EXE_fcap")), &bin);
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// Run a command that executes a file this test process just copied. Another test
/// thread may fork while the copy's write fd is open, and the child holds it until its
/// own exec: executing the copy then fails with ETXTBSY for a moment. Retry that only.
fn run_fresh_copy(make: impl Fn() -> Command) -> Run {
    for _ in 0..100 {
        let r = run(make());
        if !r.stderr().contains("Text file busy") {
            return r;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the copied executable stayed busy (ETXTBSY)");
}

fn as_nobody(bin: &Path, args: &[&OsStr]) -> Run {
    run_fresh_copy(|| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin)
            .args(args)
            .env("LC_ALL", "C");
        c
    })
}

#[test]
fn a_caller_without_cap_setfcap_is_told_to_run_as_root() {
    require_root();
    let d = tempdir();
    let bin = fcap_copy(d.path());
    let hint = "writing file capabilities needs CAP_SETFCAP";
    // A file nobody cannot read (fcap then works through an O_PATH fd, since
    // labelling needs CAP_SETFCAP and not read access), and one it can read.
    let closed = copy_prog(d.path(), "closed");
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
    let open = copy_prog(d.path(), "open");
    let r = as_nobody(&bin, &[os("grant"), os("kill"), p(&closed), p(&open)]);
    r.status(2)
        .stderr_has(&format!(
            "fcap: '{}': Operation not permitted: {hint}",
            closed.display()
        ))
        .stderr_has(&format!(
            "fcap: '{}': Operation not permitted: {hint}",
            open.display()
        ))
        .stderr_has("run as root");
    assert_eq!(raw_xattr(&closed), None);
    assert_eq!(raw_xattr(&open), None);
}

#[test]
fn a_caller_with_only_cap_setfcap_can_grant() {
    require_root();
    let d = tempdir();
    let bin = fcap_copy(d.path());
    let f = copy_prog(d.path(), "prog");
    let script = format!(
        "exec {} grant kill,sys_admin=p {}",
        bin.display(),
        f.display()
    );
    run_fresh_copy(|| only_setfcap_as_nobody(&script)).ok();
    assert_eq!(caps_of(&f), "cap_kill,cap_sys_admin=p");
}

#[test]
fn a_caller_with_only_cap_setfcap_can_label_a_file_it_cannot_read() {
    require_root();
    let d = tempdir();
    let bin = fcap_copy(d.path());
    let f = copy_prog(d.path(), "secret");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o700)).unwrap();
    setcap(&[os("cap_chown=p"), f.as_os_str()]).ok();
    let script = format!(
        "cat {f} >/dev/null 2>&1 && exit 98; {b} grant kill=p {f} && {b} revoke chown {f}",
        b = bin.display(),
        f = f.display()
    );
    let r = run_fresh_copy(|| only_setfcap_as_nobody(&script));
    r.ok();
    assert!(
        r.stdout().contains("cap_chown,cap_kill=p"),
        "{}",
        r.stdout()
    );
    assert_eq!(caps_of(&f), "cap_kill=p");
}

// ---------------------------------------------------------------- warnings

#[test]
fn grant_warns_about_root_equivalents_and_interpreters_without_breaking_json() {
    require_root();
    let d = tempdir();
    let py = copy_prog(d.path(), "python3.11");
    let r = fcap_run([os("grant"), os("--json"), os("setuid,net_raw"), p(&py)]);
    r.ok()
        .stderr_has("fcap: warning: cap_setuid is root-equivalent")
        .stderr_has(&format!(
            "fcap: warning: '{}' is an interpreter: every script it runs",
            py.display()
        ));
    let v: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    assert_eq!(v["after"], "cap_setuid,cap_net_raw=ep");
    // An ordinary program and an ordinary capability: no warning at all.
    let f = copy_prog(d.path(), "server");
    fcap_run([os("grant"), os("net_bind_service"), p(&f)])
        .ok()
        .stderr_is("");
}

// ---------------------------------------------------------------- concurrency

#[test]
fn eight_concurrent_grants_of_different_caps_lose_none() {
    require_root();
    let d = tempdir();
    let f = copy_prog(d.path(), "prog");
    let names = [
        "cap_chown",
        "cap_kill",
        "cap_net_raw",
        "cap_net_admin",
        "cap_net_bind_service",
        "cap_ipc_lock",
        "cap_sys_nice",
        "cap_lease",
    ];
    for round in 0..10 {
        fcap_run([os("revoke"), os("all"), p(&f)]).ok();
        // A start gate: every child blocks reading one shared pipe and starts fcap when
        // it is closed, so the eight read-modify-write cycles really overlap.
        let (gate_r, gate_w) = std::io::pipe().unwrap();
        let children: Vec<_> = names
            .iter()
            .map(|n| {
                Command::new("sh")
                    .args([
                        os("-c"),
                        os(r#"read _; exec "$0" grant "$1" "$2""#),
                        os(env!("CARGO_BIN_EXE_fcap")),
                        os(n),
                        p(&f),
                    ])
                    .stdin(gate_r.try_clone().unwrap())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        drop(gate_r);
        drop(gate_w);
        for mut c in children {
            assert!(c.wait().unwrap().success(), "round {round}");
        }
        let want = FileCaps::from_text(&format!("{}=ep", names.join(",")), None).unwrap();
        assert_eq!(
            caps_of(&f),
            want.to_text(),
            "round {round}: a grant was lost"
        );
    }
}

/// `nobody` holds a shared `flock` on `files` (all readable by anyone) until the
/// returned guard is dropped; returns once the lock is really held.
struct NobodyLock(std::process::Child);

impl NobodyLock {
    fn on(f: &Path) -> NobodyLock {
        use std::io::BufRead;
        use std::os::unix::process::CommandExt;
        let mut child = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args([os("flock"), os("-s"), p(f)])
            .args(["sh", "-c", "echo held; exec sleep 600"])
            .stdout(std::process::Stdio::piped())
            // Its own process group, so that flock and the sleep holding the lock
            // are ended together (by that group's id).
            .process_group(0)
            .spawn()
            .expect("setpriv/flock (Debian: util-linux)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "held\n", "nobody could not lock {}", f.display());
        NobodyLock(child)
    }
}

impl Drop for NobodyLock {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group this guard created.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// A lock anyone who can read the file can take (nobody's `flock -s`) used to stall
/// every write forever. Each command must finish (the harness kills it after 20 s and
/// fails), write what was asked, and say it wrote without the lock.
#[test]
fn a_lock_held_by_nobody_does_not_stall_grant_set_revoke_or_apply() {
    require_root();
    let d = tempdir();
    let f = copy_prog(d.path(), "prog");
    let g = copy_prog(d.path(), "other");
    let _held = (NobodyLock::on(&f), NobodyLock::on(&g));
    let warned = "another process holds a lock on this file";
    let bounded = |args: &[&OsStr]| run_bounded(fcap_cmd(args));
    bounded(&[os("grant"), os("kill"), p(&f)])
        .ok()
        .stderr_has(&format!("fcap: warning: '{}': {warned}", f.display()));
    assert_eq!(caps_of(&f), "cap_kill=ep");
    bounded(&[os("set"), os("cap_chown=p"), p(&f)])
        .ok()
        .stderr_has(warned);
    assert_eq!(caps_of(&f), "cap_chown=p");
    bounded(&[os("revoke"), os("all"), p(&f)])
        .ok()
        .stderr_has(warned);
    assert_eq!(raw_xattr(&f), None);
    let m = d.path().join("m.caps");
    std::fs::write(
        &m,
        format!(
            "{} cap_net_raw=ep\n{} cap_kill=p\n",
            f.display(),
            g.display()
        ),
    )
    .unwrap();
    bounded(&[os("apply"), p(&m)]).ok().stderr_has(warned);
    assert_eq!(caps_of(&f), "cap_net_raw=ep");
    assert_eq!(caps_of(&g), "cap_kill=p");
}

fn fcap_cmd(args: &[&OsStr]) -> Command {
    let mut c = fcap();
    c.args(args).env("LC_ALL", "C");
    c
}

// ---------------------------------------------------------------- symlinked directories

/// alice's `bin`, listed in a manifest, is replaced by a link to a directory holding
/// a root-owned file of the same name. apply (and grant/set/revoke -P) must refuse,
/// name the link, and leave the root-owned file's bytes alone.
#[test]
fn a_directory_on_the_path_swapped_for_a_symlink_is_refused_by_apply_and_p() {
    require_root();
    let d = tempdir();
    let alice_bin = d.path().join("home/alice/bin");
    let root_bin = d.path().join("root-only/bin");
    std::fs::create_dir_all(&alice_bin).unwrap();
    std::fs::create_dir_all(&root_bin).unwrap();
    let mine = copy_prog(&alice_bin, "tool");
    let victim = copy_prog(&root_bin, "tool");
    setcap(&[os("cap_chown=p"), p(&victim)]).ok();
    let victim_bytes = raw_xattr(&victim);
    let listed = alice_bin.join("tool");
    let m = d.path().join("m.caps");
    std::fs::write(&m, format!("{} cap_net_raw=ep\n", listed.display())).unwrap();
    // Before the swap, the manifest applies to alice's file.
    fcap_run([os("apply"), p(&m)]).ok();
    assert_eq!(caps_of(&mine), "cap_net_raw=ep");
    fcap_run([os("revoke"), os("all"), p(&mine)]).ok();
    std::fs::rename(&alice_bin, d.path().join("home/alice/old-bin")).unwrap();
    std::os::unix::fs::symlink(&root_bin, &alice_bin).unwrap();
    let said = format!(
        "fcap: '{}': '{}' is a symbolic link (to '{}'); nothing was written",
        listed.display(),
        alice_bin.display(),
        root_bin.display()
    );
    fcap_run([os("apply"), p(&m)])
        .status(2)
        .stderr_has(&said)
        .stderr_has(&format!("name the file itself, '{}'", victim.display()))
        .stderr_has(&format!("(listed at {}:1)", m.display()));
    fcap_run([os("apply"), os("--dry-run"), p(&m)])
        .status(2)
        .stderr_has(&said);
    for args in [
        [os("grant"), os("-P"), os("net_raw")],
        [os("revoke"), os("-P"), os("chown")],
        [os("set"), os("-P"), os("cap_net_raw=ep")],
    ] {
        let mut c = fcap();
        c.args(args).arg(&listed);
        run(c).status(2).stderr_has(&said);
    }
    assert_eq!(
        raw_xattr(&victim),
        victim_bytes,
        "the root-owned file was written"
    );
    // A relative path through the link is refused as well.
    let mut c = fcap();
    c.current_dir(d.path().join("home/alice"))
        .args(["grant", "-P", "kill", "bin/tool"]);
    run(c)
        .status(2)
        .stderr_has("fcap: 'bin/tool': 'bin' is a symbolic link");
    assert_eq!(
        raw_xattr(&victim),
        victim_bytes,
        "the root-owned file was written"
    );
}

/// Without -P, grant/revoke/set follow links, and then say which file they wrote
/// whenever any component of the path, not only the last, was a link.
#[test]
fn grant_revoke_and_set_name_the_real_file_when_a_directory_on_the_path_is_a_link() {
    require_root();
    let d = tempdir();
    let real_dir = d.path().join("real");
    std::fs::create_dir(&real_dir).unwrap();
    let f = copy_prog(&real_dir, "prog");
    let via = d.path().join("link");
    std::os::unix::fs::symlink("real", &via).unwrap();
    let given = via.join("prog");
    fcap_run([os("grant"), os("kill"), p(&given)])
        .ok()
        .stdout_is(&format!(
            "{} -> {}: cap_kill=ep (was none)\n",
            given.display(),
            f.display()
        ));
    fcap_run([os("set"), os("cap_chown=p"), p(&given)])
        .ok()
        .stdout_is(&format!(
            "{} -> {}: cap_chown=p (was cap_kill=ep)\n",
            given.display(),
            f.display()
        ));
    let j = fcap_run([os("revoke"), os("--json"), os("all"), p(&given)]);
    let v: serde_json::Value = serde_json::from_str(j.ok().stdout().trim()).unwrap();
    assert_eq!(v["target"], f.display().to_string());
    assert_eq!(v["path"], given.display().to_string());
    assert_eq!(raw_xattr(&f), None);
}

// ---------------------------------------------------------------- the mission

/// Bind 127.0.0.1:port as `nobody` with the given node; returns node's output.
fn bind_as_nobody(node: &Path, port: u16) -> Run {
    let js = format!(
        "const s=require('net').createServer();s.on('error',e=>{{console.log(e.code);process.exit(3)}});s.listen({port},'127.0.0.1',()=>{{console.log('bound');s.close()}})"
    );
    run_fresh_copy(|| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(node)
            .args(["-e", &js]);
        c
    })
}

#[test]
fn node_granted_through_a_symlink_binds_a_low_port_as_nobody_until_revoked() {
    require_root();
    let which = run({
        let mut c = Command::new("sh");
        c.args(["-c", "command -v node"]);
        c
    });
    let system_node = std::fs::canonicalize(which.ok().stdout().trim()).unwrap();
    let system_before = raw_xattr(&system_node);
    let d = tempdir();
    let node = d.path().join("node");
    cp(&system_node, &node);
    std::fs::set_permissions(&node, std::fs::Permissions::from_mode(0o755)).unwrap();
    let link = d.path().join("node-link");
    std::os::unix::fs::symlink(&node, &link).unwrap();

    // A free port below 1024: root can bind it right now.
    let port = (600u16..700)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("no free port in 600..700");
    let before = bind_as_nobody(&node, port);
    assert_eq!(
        before.stdout().trim(),
        "EACCES",
        "without caps: {}",
        before.stderr()
    );

    fcap_run([os("grant"), os("cap_net_bind_service"), p(&link)])
        .ok()
        .stderr_has("is an interpreter")
        .stdout_is(&format!(
            "{} -> {}: cap_net_bind_service=ep (was none)\n",
            link.display(),
            node.display()
        ));
    assert_eq!(caps_of(&node), "cap_net_bind_service=ep");
    let granted = bind_as_nobody(&node, port);
    assert_eq!(granted.stdout().trim(), "bound", "{}", granted.stderr());
    granted.ok();

    fcap_run([os("revoke"), os("all"), p(&link)]).ok();
    assert_eq!(raw_xattr(&node), None);
    let revoked = bind_as_nobody(&node, port);
    assert_eq!(revoked.stdout().trim(), "EACCES", "{}", revoked.stderr());
    assert_eq!(
        raw_xattr(&system_node),
        system_before,
        "the system node was touched"
    );
}

#[test]
fn colour_only_when_asked_and_no_arrow_for_a_plain_relative_path() {
    require_root();
    let d = tempdir();
    copy_prog(d.path(), "prog");
    let mut c = fcap();
    c.current_dir(d.path()).args(["grant", "kill", "./prog"]);
    run(c).ok().stdout_is("./prog: cap_kill=ep (was none)\n");
    let mut c = fcap();
    c.current_dir(d.path())
        .args(["--color", "always", "grant", "kill,net_raw", "prog"]);
    run(c)
        .ok()
        .stdout_is("prog: \u{1b}[32mcap_kill,cap_net_raw=ep\u{1b}[0m (was cap_kill=ep)\n");
}

#[test]
fn a_file_whose_owner_is_unmapped_in_the_callers_user_namespace_is_refused() {
    require_root();
    let d = tempdir();
    let bin = fcap_copy(d.path());
    let f = copy_prog(d.path(), "foreign");
    std::os::unix::fs::chown(&f, Some(1234), Some(1234)).unwrap();
    let mine = copy_prog(d.path(), "mine");
    // Inside `unshare -U --map-root-user` only uid 0 is mapped: root there holds
    // CAP_SETFCAP, but not over a file owned by the unmapped uid 1234.
    let r = run_fresh_copy(|| {
        let mut c = Command::new("unshare");
        c.args(["-U", "--map-root-user"]).arg(&bin).args([
            os("grant"),
            os("kill"),
            p(&f),
            p(&mine),
        ]);
        c
    });
    r.status(2).stderr_has(&format!(
        "fcap: '{}': Operation not permitted: writing file capabilities needs CAP_SETFCAP over the file (and the file owner must be mapped in this user namespace)",
        f.display()
    ));
    assert_eq!(raw_xattr(&f), None);
    assert_eq!(caps_of(&mine), "cap_kill=ep");
}
