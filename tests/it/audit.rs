//! `fcap audit` on real files: copies of real set-ID programs (su, passwd, ping) with
//! their bits set on the copies, copies of real interpreters (python3, perl, node)
//! given capabilities with libcap's setcap, images built with umoci. Every finding is
//! asserted by rule, path and severity; `find -perm /6000` and `getcap -r` are the
//! oracles for which files are privileged at all; the SARIF output is checked by
//! the `jsonschema` validator against the official OASIS schema.

use crate::util::*;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The path of a program on PATH, or a test failure naming its package.
fn which(tool: &str) -> PathBuf {
    require_tool(tool);
    let path = std::env::var_os("PATH").unwrap();
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .map(|p| fs::canonicalize(p).unwrap())
        .unwrap()
}

/// A copy of the real program `tool` at `dir/name`, with this mode.
fn copy_of(dir: &Path, tool: &str, name: &str, mode: u32) -> PathBuf {
    let dest = dir.join(name);
    cp(&which(tool), &dest);
    chmod(&dest, mode);
    dest
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

fn chgrp(p: &Path, group: &str) {
    let r = run({
        let mut c = Command::new("chgrp");
        c.arg(group).arg(p);
        c
    });
    r.ok();
}

/// `(rule, path, severity)` of every record, sorted.
fn triples(r: &Run) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = r
        .json_lines()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn t3(rule: &str, p: &Path, sev: &str) -> (String, String, String) {
    (rule.into(), p.display().to_string(), sev.into())
}

fn audit(args: &[&str], dir: &Path) -> Run {
    let mut c = fcap();
    c.arg("audit").args(args).current_dir(dir);
    run(c)
}

/// A directory where no policy file is found unless the test writes one.
fn workdir() -> tempfile::TempDir {
    tempdir()
}

/// Every rule for host files, each with its trigger and its guard, on copies of real
/// programs: the exact findings, and the same privileged files as find and getcap.
#[test]
fn host_rules_on_real_programs() {
    require_root();
    let w = workdir();
    let d = tempdir();
    let t = d.path();
    let su = copy_of(t, "su", "su", 0o4755);
    let passwd = copy_of(t, "passwd", "passwd", 0o4755);
    let ping = copy_of(t, "ping", "ping", 0o755);
    setcap_on(&ping, &["cap_net_raw=ep"]);
    let py = copy_of(t, "python3", "python3", 0o755);
    setcap_on(&py, &["cap_setuid=ep"]);
    // The guard of FC101/FC110: a file 'other' cannot run drops one level.
    let perl = copy_of(t, "perl", "perl", 0o750);
    setcap_on(&perl, &["cap_dac_read_search=ep"]);
    // node binding low ports: visible, but a warning that passes --fail-on error.
    let node = copy_of(t, "node", "node", 0o755);
    setcap_on(&node, &["cap_net_bind_service=ep"]);
    let admin = copy_of(t, "true", "netadmin", 0o755);
    setcap_on(&admin, &["cap_net_admin=ep"]);
    let sniff = copy_of(t, "true", "sniff", 0o755);
    setcap_on(&sniff, &["cap_net_raw,cap_net_admin=ep"]);
    let inh = copy_of(t, "true", "inherit", 0o755);
    setcap_on(&inh, &["cap_net_bind_service+eip"]);
    let shadow = copy_of(t, "true", "shadowed", 0o2755);
    chgrp(&shadow, "shadow");
    chmod(&shadow, 0o2755);
    let mail = copy_of(t, "true", "mailer", 0o2755);
    chgrp(&mail, "mail");
    chmod(&mail, 0o2755);
    // Set-group-ID without group execute marks mandatory locking: no finding.
    let locking = copy_of(t, "true", "locking", 0o2644);
    let bash = copy_of(t, "bash", "bash", 0o4755);
    copy_of(t, "true", "plain", 0o755);
    let r = audit(&["--json", t.to_str().unwrap()], w.path());
    r.status(1);
    let mut want = vec![
        t3("FC150", &su, "error"),
        t3("FC150", &passwd, "error"),
        t3("FC101", &py, "error"),
        t3("FC110", &py, "error"),
        t3("FC101", &perl, "warning"),
        t3("FC110", &perl, "warning"),
        t3("FC110", &node, "warning"),
        t3("FC102", &admin, "warning"),
        t3("FC102", &sniff, "warning"),
        t3("FC103", &sniff, "warning"),
        t3("FC130", &inh, "note"),
        t3("FC151", &shadow, "error"),
        t3("FC151", &mail, "warning"),
        t3("FC150", &bash, "error"),
        t3("FC152", &bash, "error"),
    ];
    want.sort();
    assert_eq!(triples(&r), want);
    let _ = locking;
    // Every record names its rule, path, severity and message, and the mode.
    for f in r.json_lines() {
        assert!(f["message"].as_str().unwrap().contains("fix:"), "{f}");
        assert_eq!(f["suppressed"], Value::Bool(false));
    }
    // The oracles: the files find -perm /6000 and getcap -r report are exactly the
    // files with findings, plus ping (cap_net_raw alone breaks no rule) and minus
    // the locking file (find sees its bit; the kernel ignores it at exec).
    let find = run({
        let mut c = Command::new("find");
        c.arg(t).args(["-xdev", "-perm", "/6000", "-type", "f"]);
        c
    })
    .stdout();
    let getcap = getcap(&[os("-r"), t.as_os_str()]);
    let mut oracle: Vec<String> = find
        .lines()
        .map(str::to_string)
        .chain(
            getcap
                .lines()
                .map(|l| l.split(' ').next().unwrap().to_string()),
        )
        .filter(|p| Path::new(p) != ping && Path::new(p) != locking)
        .collect();
    oracle.sort();
    oracle.dedup();
    let mut seen: Vec<String> = want.iter().map(|w| w.1.clone()).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, oracle);
    // The human view groups by severity and counts.
    let h = audit(&[t.to_str().unwrap()], w.path());
    h.status(1);
    let out = h.stdout();
    let (e, wa, n) = (
        out.find("error (7)").unwrap(),
        out.find("warning (7)").unwrap(),
        out.find("note (1)").unwrap(),
    );
    assert!(e < wa && wa < n, "{out}");
    assert!(
        out.contains(&format!("  FC152 {}  ", bash.display())),
        "{out}"
    );
    assert!(
        out.ends_with("7 errors, 7 warnings, 1 note in 12 privileged files\n"),
        "{out}"
    );
}

/// Clean trees are clean, in every format, with exit 0.
#[test]
fn clean_tree_is_clean_in_every_format() {
    require_root();
    let w = workdir();
    let d = tempdir();
    let ping = copy_of(d.path(), "ping", "ping", 0o755);
    setcap_on(&ping, &["cap_net_raw=ep"]);
    copy_of(d.path(), "true", "plain", 0o755);
    // A namespaced (v3) value on the host: FC160 is about images only.
    let ns = copy_of(d.path(), "true", "ns", 0o755);
    setcap_on(&ns, &["-n", "1000", "cap_net_bind_service=ep"]);
    let p = d.path().to_str().unwrap();
    let r = audit(&["--json", p], w.path());
    r.ok();
    assert_eq!(r.stdout(), "");
    audit(&[p], w.path())
        .ok()
        .stdout_is("0 errors, 0 warnings, 0 notes in 2 privileged files\n");
    let s: Value =
        serde_json::from_str(&audit(&["--format", "sarif", p], w.path()).ok().stdout()).unwrap();
    assert_eq!(s["runs"][0]["results"], serde_json::json!([]));
    assert_eq!(
        audit(&["--format", "gitlab", p], w.path())
            .ok()
            .stdout()
            .trim(),
        "[]"
    );
    let j = audit(&["--format", "junit", p], w.path()).ok().stdout();
    assert!(j.contains(r#"tests="1" failures="0""#), "{j}");
}

/// --fail-on decides the exit code whatever is shown, in every format; an error is 2.
#[test]
fn fail_on_and_exit_codes_in_every_format() {
    require_root();
    let w = workdir();
    let d = tempdir();
    let node = copy_of(d.path(), "node", "node", 0o755);
    setcap_on(&node, &["cap_net_bind_service=ep"]);
    let p = d.path().to_str().unwrap();
    for format in ["human", "json", "sarif", "gitlab", "junit"] {
        let code =
            |fail_on: &str| audit(&["--format", format, "--fail-on", fail_on, p], w.path()).code();
        assert_eq!(code("error"), 0, "{format}");
        assert_eq!(code("warning"), 1, "{format}");
        assert_eq!(code("note"), 1, "{format}");
        assert_eq!(code("none"), 0, "{format}");
        let gone = d.path().join("gone");
        let r = audit(&["--format", format, gone.to_str().unwrap()], w.path());
        r.status(2);
        r.stderr_has("No such file or directory");
    }
    // The default fails on errors only.
    assert_eq!(audit(&[p], w.path()).code(), 0);
    let su = copy_of(d.path(), "su", "su", 0o4755);
    let r = audit(&["--format", "junit", "--fail-on", "none", p], w.path());
    r.ok();
    assert!(r.stdout().contains(&format!("{}", su.display())));
}

/// The policy file: exceptions that match (with their reason on request), expire,
/// go unused, are scoped by caps; the built-in Debian list; --no-exceptions; and
/// malformed files (one line naming the line, exit 2).
#[test]
fn policy_exceptions_match_expire_unused_and_malformed() {
    require_root();
    let w = workdir();
    let d = tempdir();
    let t = d.path();
    let su = copy_of(t, "su", "su", 0o4755);
    let passwd = copy_of(t, "passwd", "passwd", 0o4755);
    let py = copy_of(t, "python3", "python3", 0o755);
    setcap_on(&py, &["cap_net_bind_service=ep"]);
    let node = copy_of(t, "node", "node", 0o755);
    setcap_on(&node, &["cap_net_bind_service,cap_net_admin=ep"]);
    let dir = t.display();
    let policy = format!(
        "exceptions:\n\
         - rule: FC150\n  path: {dir}/su\n  reason: operators log in with su\n\
         - rule: [FC150]\n  path: '**/passwd'\n  reason: old\n  expires: 2001-02-03\n\
         - rule: FC110\n  path: {dir}/*\n  caps: cap_net_bind_service\n  reason: binds :443\n  expires: 2999-12-31\n\
         - rule: FC151\n  path: /nowhere/x\n  reason: gone long ago\n"
    );
    fs::write(w.path().join(".fcap-policy.yaml"), &policy).unwrap();
    let p = t.to_str().unwrap();
    let r = audit(&["--json", p], w.path());
    r.status(1);
    // (node's net_admin is rated high: an error for an interpreter.)
    let mut want = vec![
        t3("FC150", &passwd, "error"),
        t3("FC110", &node, "error"),
        t3("FC102", &node, "warning"),
    ];
    want.sort();
    assert_eq!(triples(&r), want);
    r.stderr_has(
        "fcap: warning: '.fcap-policy.yaml':5: the exception for FC150 **/passwd expired on 2001-02-03: it suppresses nothing any more",
    );
    r.stderr_has(
        "fcap: warning: '.fcap-policy.yaml':14: unused exception: FC151 /nowhere/x matched no finding",
    );
    // Suppressed findings, with their reasons, on request.
    let s = audit(&["--json", "--show-suppressed", p], w.path());
    s.status(1);
    let sup: Vec<&Value> = Vec::new();
    let lines = s.json_lines();
    let sup: Vec<&Value> = sup
        .into_iter()
        .chain(
            lines
                .iter()
                .filter(|f| f["suppressed"] == Value::Bool(true)),
        )
        .collect();
    assert_eq!(sup.len(), 2, "{lines:?}");
    assert!(sup.iter().any(
        |f| f["path"] == su.display().to_string() && f["reason"] == "operators log in with su"
    ));
    assert!(
        sup.iter()
            .any(|f| f["path"] == py.display().to_string() && f["reason"] == "binds :443")
    );
    let human = audit(&["--show-suppressed", p], w.path()).stdout();
    assert!(
        human.contains("reason: operators log in with su"),
        "{human}"
    );
    // --no-exceptions audits everything.
    let all = audit(&["--json", "--no-exceptions", p], w.path());
    assert_eq!(all.json_lines().len(), 5);
    // The built-in list covers Debian's stock set-ID programs by path only.
    let b = tempdir();
    fs::write(b.path().join("p.yaml"), "builtin: [debian-base]\n").unwrap();
    let r = audit(&["--json", "--policy", "p.yaml", p], b.path());
    assert_eq!(
        r.json_lines().len(),
        5,
        "a copy outside /usr/bin is not stock"
    );
    let r = audit(
        &[
            "--json",
            "--policy",
            "p.yaml",
            "/usr/bin/su",
            "/usr/bin/passwd",
        ],
        b.path(),
    );
    r.ok();
    assert_eq!(r.stdout(), "");
    // Malformed: one line naming the file and line, exit 2, nothing on stdout.
    for (text, line, what) in [
        (
            "exceptions:\n  - rule: FC150\n    path: su\n    reason: x\n",
            3,
            "must be absolute",
        ),
        (
            "exceptions:\n  - rule: FC150\n    path: /a\n",
            2,
            "no 'reason'",
        ),
        (
            "exceptions:\n  - rule: FC999\n    path: /a\n    reason: x\n",
            2,
            "unknown rule",
        ),
        (
            "exceptions:\n  - rule: FC150\n    path: /a\n    reason: x\n    expires: 31.12.2030\n",
            5,
            "not a date",
        ),
        (
            "exceptions:\n  - rule: FC150\n    path: /opt/**\n    reason: x\n",
            3,
            "whole directory",
        ),
        ("exceptions: [\n", 2, "not YAML"),
        ("builtin: [ubuntu]\n", 1, "unknown builtin"),
    ] {
        fs::write(b.path().join("bad.yaml"), text).unwrap();
        let r = audit(&["--policy", "bad.yaml", p], b.path());
        r.status(2);
        assert_eq!(r.stdout(), "");
        let e = r.stderr();
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(
            e.starts_with(&format!("fcap: 'bad.yaml': line {line}: ")) && e.contains(what),
            "{text:?}: {e}"
        );
    }
}

/// --allow manifests are upper bounds (FC140).
#[test]
fn allow_manifests_are_upper_bounds() {
    require_root();
    let w = workdir();
    let d = tempdir();
    let t = d.path();
    let ping = copy_of(t, "ping", "ping", 0o755);
    setcap_on(&ping, &["cap_net_raw=ep"]);
    let dump = copy_of(t, "true", "dumpcap", 0o755);
    setcap_on(&dump, &["cap_net_raw,cap_net_admin,cap_kill=ep"]);
    let new = copy_of(t, "true", "new", 0o755);
    setcap_on(&new, &["cap_kill=ep"]);
    let m = t.join("allow.caps");
    fs::write(
        &m,
        format!(
            "{} cap_net_raw,cap_net_admin=ep\n{} cap_net_raw,cap_net_admin=ep\n",
            ping.display(),
            dump.display()
        ),
    )
    .unwrap();
    let r = audit(
        &[
            "--json",
            "--allow",
            m.to_str().unwrap(),
            t.to_str().unwrap(),
        ],
        w.path(),
    );
    r.status(1);
    let mut want = vec![
        t3("FC140", &dump, "error"),
        t3("FC102", &dump, "warning"),
        t3("FC103", &dump, "warning"),
        t3("FC140", &new, "error"),
    ];
    want.sort();
    assert_eq!(triples(&r), want);
    let lines = r.json_lines();
    let more = lines
        .iter()
        .find(|f| f["rule"] == "FC140" && f["path"] == dump.display().to_string())
        .unwrap();
    assert!(
        more["message"]
            .as_str()
            .unwrap()
            .contains("fcap revoke cap_kill"),
        "{more}"
    );
}

/// FC120/FC121 on host files, computed by verify's model for each profile.
#[test]
fn profiles_judge_capabilities_with_verify_s_model() {
    require_root();
    let w = workdir();
    let d = tempdir();
    let t = d.path();
    let nbs = copy_of(t, "true", "web", 0o755);
    setcap_on(&nbs, &["cap_net_bind_service=ep"]);
    let raw = copy_of(t, "ping", "ping", 0o755);
    setcap_on(&raw, &["cap_net_raw=ep"]);
    let time = copy_of(t, "true", "clock", 0o755);
    setcap_on(&time, &["cap_sys_time=p"]);
    let p = t.to_str().unwrap();
    let prof = |args: &[&str]| {
        let mut a = vec!["--json", "--fail-on", "none"];
        a.extend_from_slice(args);
        a.push(p);
        let r = audit(&a, w.path());
        r.ok();
        triples(&r)
            .into_iter()
            .filter(|f| f.0.starts_with("FC12"))
            .collect::<Vec<_>>()
    };
    // restricted on containerd: net_bind_service fits (the runtime grants it); a
    // =ep net_raw fails with EPERM; a =p sys_time is silently missing.
    let mut want = vec![t3("FC120", &raw, "error"), t3("FC120", &time, "error")];
    want.sort();
    assert_eq!(prof(&["--profile", "k8s-restricted"]), want);
    // On docker (cri-dockerd) the non-root user's permitted set is empty: under
    // no_new_privs net_bind_service is inert.
    let mut want = vec![
        t3("FC120", &raw, "error"),
        t3("FC120", &time, "error"),
        t3("FC121", &nbs, "note"),
    ];
    want.sort();
    assert_eq!(
        prof(&["--profile", "k8s-restricted", "--runtime", "docker"]),
        want
    );
    // baseline lacks net_raw and sys_time; docker's defaults lack only sys_time.
    let mut want = vec![t3("FC120", &raw, "error"), t3("FC120", &time, "error")];
    want.sort();
    assert_eq!(prof(&["--profile", "k8s-baseline"]), want);
    assert_eq!(
        prof(&["--profile", "docker"]),
        vec![t3("FC120", &time, "error")]
    );
    // The message says what the kernel does.
    let r = audit(
        &["--json", "--profile", "docker", "--fail-on", "none", p],
        w.path(),
    );
    let m = r
        .json_lines()
        .into_iter()
        .find(|f| f["rule"] == "FC120")
        .unwrap();
    assert!(
        m["message"]
            .as_str()
            .unwrap()
            .contains("runs without it, silently"),
        "{m}"
    );
}

/// Run a bash script in `dir`, failing the test with its output unless it succeeds.
fn sh(dir: &Path, script: &str) {
    let mut c = Command::new("bash");
    c.args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("LC_ALL", "C");
    run(c).ok();
}

/// An image built with umoci: set-ID copies, interpreters with capabilities, a v3
/// value (FC160), a layer bsdtar wrote (FC161), the entrypoint and user judged as
/// `verify --image` judges them, SARIF validated against the official schema.
#[test]
fn image_rules_with_umoci() {
    require_root();
    for tool in ["umoci", "setcap", "bsdtar", "python3", "su", "ping"] {
        require_tool(tool);
    }
    let w = workdir();
    let d = tempdir();
    let lab = d.path();
    let (su, py, ping) = (which("su"), which("python3"), which("ping"));
    sh(
        lab,
        &format!(
            r#"
umoci init --layout oci
umoci new --image oci:base
umoci unpack --image oci:base bundle
R=bundle/rootfs
mkdir -p $R/usr/bin $R/usr/local/bin $R/etc $R/lib64 $R/lib/x86_64-linux-gnu
cp -L /lib64/ld-linux-x86-64.so.2 $R/lib64/ && cp -L /lib/x86_64-linux-gnu/libc.so.6 $R/lib/x86_64-linux-gnu/
echo 'root:x:0:0::/root:/bin/sh' > $R/etc/passwd
echo 'app:x:1000:1000::/app:/bin/sh' >> $R/etc/passwd
printf 'root:x:0:\nshadow:x:42:\napp:x:1000:\n' > $R/etc/group
cp {su} $R/usr/bin/su && chmod 4755 $R/usr/bin/su
cp {py} $R/usr/bin/python3 && setcap cap_setuid=ep $R/usr/bin/python3
cp {ping} $R/usr/bin/ping && setcap cap_net_raw=ep $R/usr/bin/ping
cp /bin/true $R/usr/local/bin/app && setcap cap_net_bind_service=ep $R/usr/local/bin/app
cp /bin/true $R/usr/local/bin/ns && setcap -n 1000 cap_net_admin=ep $R/usr/local/bin/ns
cp /bin/true $R/usr/bin/chage && chgrp 42 $R/usr/bin/chage && chmod 2755 $R/usr/bin/chage
printf '#!/usr/bin/ping\n' > $R/usr/local/bin/start && chmod 755 $R/usr/local/bin/start
umoci repack --refresh-bundle --image oci:app --history.created_by='RUN build' bundle
umoci config --image oci:app --tag rootapp --config.entrypoint /usr/local/bin/app
umoci config --image oci:app --tag app --config.user app --config.entrypoint /usr/local/bin/app
umoci config --image oci:app --tag start --config.user app --config.entrypoint /usr/local/bin/start
mkdir -p la/usr/local/bin && cp /bin/true la/usr/local/bin/bsd && setcap cap_kill=ep la/usr/local/bin/bsd
bsdtar --xattrs --format pax --options xattrheader=LIBARCHIVE -cf bsd.tar -C la usr
mkdir -p hl/usr/bin && cp /bin/true hl/usr/bin/a && setcap cap_kill=ep hl/usr/bin/a && ln hl/usr/bin/a hl/usr/bin/b
tar --xattrs --xattrs-include='*' --format=pax -cf gnu-link.tar -C hl usr
bsdtar --xattrs --format pax -cf bsd-link.tar -C hl usr
"#,
            su = su.display(),
            py = py.display(),
            ping = ping.display()
        ),
    );
    let image = format!("{}:app", lab.join("oci").display());
    let r = audit(&["--json", "--image", &image], w.path());
    r.status(1);
    let p = |s: &str| PathBuf::from(s);
    let mut want = vec![
        t3("FC150", &p("/usr/bin/su"), "error"),
        t3("FC101", &p("/usr/bin/python3"), "error"),
        t3("FC110", &p("/usr/bin/python3"), "error"),
        t3("FC151", &p("/usr/bin/chage"), "error"),
        t3("FC102", &p("/usr/local/bin/ns"), "warning"),
        t3("FC160", &p("/usr/local/bin/ns"), "warning"),
    ];
    want.sort();
    assert_eq!(triples(&r), want);
    // Records of an image name it, the layer and the logical location.
    let rec = r
        .json_lines()
        .into_iter()
        .find(|f| f["rule"] == "FC150")
        .unwrap();
    assert!(
        rec["message"].as_str().unwrap().contains("--strip-setid"),
        "{rec}"
    );
    let loc = rec["location"].as_str().unwrap();
    assert!(
        loc.starts_with(&format!("{image}@sha256:")) && loc.ends_with(":/usr/bin/su"),
        "{rec}"
    );
    // An exception scoped to an image applies only when that image is audited.
    fs::write(
        w.path().join("img.yaml"),
        "exceptions:\n- rule: FC150\n  path: /usr/bin/su\n  image: '*oci:app'\n  reason: this image's login\n\
         - rule: FC151\n  path: /usr/bin/chage\n  image: '*other*'\n  reason: another image\n",
    )
    .unwrap();
    let r = audit(
        &["--json", "--policy", "img.yaml", "--image", &image],
        w.path(),
    );
    r.status(1);
    let rules: Vec<String> = triples(&r).into_iter().map(|t| t.0).collect();
    assert!(
        !rules.contains(&"FC150".to_string()) && rules.contains(&"FC151".to_string()),
        "{rules:?}"
    );
    r.stderr_has("img.yaml':6: unused exception: FC151 /usr/bin/chage matched no finding in");
    // The bsdtar layer: its value is only in a LIBARCHIVE record.
    let bsd = lab.join("bsd.tar");
    let r = audit(&["--json", "--image", bsd.to_str().unwrap()], w.path());
    r.status(1);
    assert_eq!(
        triples(&r),
        vec![t3("FC161", &p("/usr/local/bin/bsd"), "error")]
    );
    // A hard link: GNU tar writes the record on the data entry only, so Docker and
    // containerd lose the capability on both names; bsdtar repeats it on the link.
    let r = audit(
        &[
            "--json",
            "--image",
            lab.join("gnu-link.tar").to_str().unwrap(),
        ],
        w.path(),
    );
    r.status(1);
    assert_eq!(
        triples(&r),
        vec![
            t3("FC161", &p("/usr/bin/a"), "error"),
            t3("FC161", &p("/usr/bin/b"), "error")
        ]
    );
    let r = audit(
        &[
            "--json",
            "--image",
            lab.join("bsd-link.tar").to_str().unwrap(),
        ],
        w.path(),
    );
    r.ok();
    assert_eq!(r.stdout(), "");
    // Under k8s-restricted as the image's user 'app': the entrypoint fits (containerd
    // grants net_bind_service), ping's =ep net_raw would fail with EPERM, and python3's
    // setuid too; on docker the entrypoint's capability is inert.
    let prof = |args: &[&str]| {
        let mut a = vec!["--json", "--fail-on", "none", "--image", &image];
        a.extend_from_slice(args);
        let r = audit(&a, w.path());
        r.ok();
        triples(&r)
            .into_iter()
            .filter(|f| f.0.starts_with("FC12"))
            .collect::<Vec<_>>()
    };
    // (ns's v3 value does not apply outside its namespace: FC160, not FC120.)
    let mut want = vec![
        t3("FC120", &p("/usr/bin/ping"), "error"),
        t3("FC120", &p("/usr/bin/python3"), "error"),
    ];
    want.sort();
    assert_eq!(prof(&["--profile", "k8s-restricted"]), want);
    let mut with_nnp = want.clone();
    with_nnp.push(t3("FC121", &p("/usr/local/bin/app"), "note"));
    with_nnp.sort();
    assert_eq!(
        prof(&["--profile", "k8s-restricted", "--runtime", "docker"]),
        with_nnp
    );
    // The entrypoint is verified as `verify --image` does: a script whose `#!`
    // interpreter (ping, cap_net_raw=ep) would fail with EPERM in the pod is a finding
    // on the script itself.
    let start = format!("{}:start", lab.join("oci").display());
    let r = audit(
        &[
            "--json",
            "--fail-on",
            "none",
            "--image",
            &start,
            "--profile",
            "k8s-restricted",
        ],
        w.path(),
    );
    r.ok();
    let rec = r
        .json_lines()
        .into_iter()
        .find(|f| f["path"] == "/usr/local/bin/start")
        .unwrap();
    assert_eq!(
        (&rec["rule"], &rec["severity"]),
        (&"FC120".into(), &"error".into())
    );
    assert!(rec["message"].as_str().unwrap().contains("EPERM"), "{rec}");
    // An image without a User runs as root, which k8s-restricted refuses.
    let root = format!("{}:rootapp", lab.join("oci").display());
    let r = audit(&["--image", &root, "--profile", "k8s-restricted"], w.path());
    r.status(2);
    assert_eq!(r.stdout(), "");
    r.stderr_has("needs a non-root --user");
    // (docker runs it as root: the files are judged with root's bounding set.)
    audit(
        &["--fail-on", "none", "--image", &root, "--profile", "docker"],
        w.path(),
    )
    .ok();
    // SARIF: the official schema accepts it; one location per result, the logical
    // location, security-severity, fingerprints that survive a re-scan.
    let sarif = audit(
        &[
            "--format",
            "sarif",
            "--image",
            &image,
            "--profile",
            "k8s-restricted",
        ],
        w.path(),
    );
    sarif.status(1);
    validate_sarif(&sarif.stdout());
    let v: Value = serde_json::from_str(&sarif.stdout()).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 8);
    for res in results {
        assert_eq!(res["locations"].as_array().unwrap().len(), 1);
        let fq = res["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
            .as_str()
            .unwrap();
        assert!(fq.starts_with(&format!("{image}@sha256:")), "{fq}");
        let uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(
            uri.starts_with("oci_app/usr/") && !uri.contains(':'),
            "{uri}"
        );
    }
    let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 13);
    assert!(
        rules
            .iter()
            .all(|r| r["properties"]["security-severity"].is_string()
                && r["help"]["text"].as_str().unwrap().contains("Fix:"))
    );
    let again: Value = serde_json::from_str(
        &audit(
            &[
                "--format",
                "sarif",
                "--image",
                &image,
                "--profile",
                "k8s-restricted",
            ],
            w.path(),
        )
        .stdout(),
    )
    .unwrap();
    assert_eq!(
        again["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["partialFingerprints"].clone())
            .collect::<Vec<_>>(),
        results
            .iter()
            .map(|r| r["partialFingerprints"].clone())
            .collect::<Vec<_>>()
    );
    // GitLab and JUnit carry the same findings.
    let gl: Value =
        serde_json::from_str(&audit(&["--format", "gitlab", "--image", &image], w.path()).stdout())
            .unwrap();
    let gl = gl.as_array().unwrap();
    assert_eq!(gl.len(), 6);
    assert!(gl.iter().any(|i| i["check_name"] == "FC150"
        && i["severity"] == "critical"
        && i["location"]["path"] == "oci_app/usr/bin/su"
        && i["location"]["lines"]["begin"] == 1));
    let junit = audit(&["--format", "junit", "--image", &image], w.path());
    junit.status(1);
    check_junit(&junit.stdout(), 6, 4);
}

/// Host SARIF with suppressions validates too, and paths are relative URIs.
#[test]
fn host_sarif_validates_with_suppressions() {
    require_root();
    let w = workdir();
    let d = tempdir();
    let su = copy_of(d.path(), "su", "su", 0o4755);
    let odd = copy_of(d.path(), "true", "we ird:name", 0o4755);
    fs::write(
        w.path().join(".fcap-policy.yaml"),
        format!(
            "exceptions:\n- rule: FC150\n  path: {}\n  reason: reviewed\n",
            su.display()
        ),
    )
    .unwrap();
    let r = audit(
        &[
            "--format",
            "sarif",
            "--show-suppressed",
            d.path().to_str().unwrap(),
        ],
        w.path(),
    );
    r.status(1);
    validate_sarif(&r.stdout());
    let v: Value = serde_json::from_str(&r.stdout()).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let s = results
        .iter()
        .find(|x| x["suppressions"].is_array())
        .unwrap();
    assert_eq!(s["suppressions"][0]["justification"], "reviewed");
    let uri = |x: &Value| {
        x["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let want = odd
        .display()
        .to_string()
        .trim_start_matches('/')
        .replace(' ', "%20")
        .replace(':', "%3A");
    assert!(results.iter().any(|x| uri(x) == want), "{results:?}");
}

/// Validate SARIF text with Python's jsonschema against the committed OASIS schema.
fn validate_sarif(text: &str) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let mut c = Command::new(root.join("scripts/sarif-env"));
    c.env("CARGO_TARGET_DIR", &target);
    let r = run(c);
    assert_eq!(
        r.code(),
        0,
        "scripts/sarif-env failed (it needs python3-venv and PyPI): {}",
        r.stderr()
    );
    let f = tempfile::NamedTempFile::new().unwrap();
    fs::write(f.path(), text).unwrap();
    let mut c = Command::new(target.join("sarif-venv/bin/python3"));
    c.args([
        "-c",
        "import json, sys, jsonschema\n\
         schema = json.load(open(sys.argv[1]))\n\
         doc = json.load(open(sys.argv[2]))\n\
         jsonschema.Draft4Validator.check_schema(schema)\n\
         errors = list(jsonschema.Draft4Validator(schema).iter_errors(doc))\n\
         for e in errors: print(list(e.absolute_path), e.message)\n\
         sys.exit(1 if errors else 0)\n",
    ])
    .arg(root.join("tests/fixtures/sarif/sarif-schema-2.1.0.json"))
    .arg(f.path());
    run(c).ok();
}

/// Parse JUnit XML with Python's own parser and check the counts.
fn check_junit(text: &str, tests: usize, failures: usize) {
    let f = tempfile::NamedTempFile::new().unwrap();
    fs::write(f.path(), text).unwrap();
    let mut c = Command::new("python3");
    c.args([
        "-c",
        "import sys, xml.etree.ElementTree as ET\n\
         s = ET.parse(sys.argv[1]).getroot().find('testsuite')\n\
         print(len(s.findall('testcase')), len(s.findall('testcase/failure')), s.get('tests'), s.get('failures'))\n",
    ])
    .arg(f.path());
    let out = run(c).ok().stdout();
    assert_eq!(
        out.trim(),
        format!("{tests} {failures} {tests} {failures}"),
        "{text}"
    );
}
