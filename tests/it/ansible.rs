//! The `fcap.caps` Ansible collection (contrib/ansible), run by real ansible-core: the
//! collection is built and installed with ansible-galaxy, playbooks run with
//! `ansible-playbook -c local` as root on real files in temp dirs, and the xattr bytes are
//! read here. community.general.capabilities runs the same tasks side by side.
//! `ansible-test sanity`, `units` and `integration` run offline on a copy of the collection.
//! scripts/ansible-env makes the Python side once (target/ansible-venv and friends).

use crate::util::*;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const COLLECTION: &str = "contrib/ansible/ansible_collections/fcap/caps";

/// What every test shares: the venv, the installed collection, community.general.
struct Env {
    venv: PathBuf,
    /// ANSIBLE_COLLECTIONS_PATH: the installed fcap.caps, then community.general.
    collections: String,
    /// HOME for ansible-test (its cached pip bootstrap lives there).
    home: PathBuf,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        require_root();
        let mut c = Command::new(root().join("scripts/ansible-env"));
        c.env("CARGO_TARGET_DIR", target_dir());
        let r = run(c);
        assert!(
            r.code() == 0,
            "scripts/ansible-env failed (it needs python3 with venv, Debian package python3-venv, and PyPI):\n{}{}",
            r.stdout(),
            r.stderr()
        );
        let t = target_dir();
        let venv = t.join("ansible-venv");
        // The built and installed collection lives as long as the test process; a
        // TempDir in this static would never be dropped (statics are not), so it goes
        // under target/ and is made afresh by each run instead of piling up in /tmp.
        let keep = t.join(format!("ansible-collection-{}", std::process::id()));
        for old in fs::read_dir(&t).unwrap().flatten() {
            // One left by a test process that has ended (its pid is gone).
            let name = old.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("ansible-collection-")
                && !Path::new("/proc").join(pid).exists()
            {
                let _ = fs::remove_dir_all(old.path());
            }
        }
        fs::create_dir_all(&keep).unwrap();
        // Build the collection's tarball and install it, as a user would.
        let build = keep.join("build");
        let mut c = Command::new(venv.join("bin/ansible-galaxy"));
        c.env("ANSIBLE_HOME", keep.join(".ansible"))
            .args(["collection", "build", "--output-path"])
            .arg(&build)
            .arg(root().join(COLLECTION));
        run(c).ok();
        let tarball = fs::read_dir(&build)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
            .expect("ansible-galaxy built no tarball");
        let installed = keep.join("collections");
        let mut c = Command::new(venv.join("bin/ansible-galaxy"));
        c.env("ANSIBLE_HOME", keep.join(".ansible"))
            .args(["collection", "install", "--offline", "-p"])
            .arg(&installed)
            .arg(&tarball);
        run(c).ok();
        assert!(
            installed
                .join("ansible_collections/fcap/caps/plugins/modules/capability.py")
                .exists()
        );
        let collections = format!(
            "{}:{}",
            installed.display(),
            t.join("ansible-cg").display()
        );
        Env {
            venv,
            collections,
            home: t.join("ansible-home"),
        }
    })
}

/// The directory of the fcap binary under test, first in PATH for the modules.
fn path_with_fcap() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_fcap")).parent().unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// An ansible command from the venv with a hermetic configuration under `dir`.
fn ansible(dir: &Path, tool: &str) -> Command {
    let e = env();
    let mut c = Command::new(e.venv.join("bin").join(tool));
    let cfg = dir.join("ansible.cfg");
    if !cfg.exists() {
        fs::write(&cfg, "[defaults]\nretry_files_enabled = False\n").unwrap();
    }
    let tmp = dir.join(".ansible-tmp");
    fs::create_dir_all(&tmp).unwrap();
    c.current_dir(dir)
        .env("PATH", path_with_fcap())
        .env("ANSIBLE_CONFIG", &cfg)
        .env("ANSIBLE_COLLECTIONS_PATH", &e.collections)
        .env("ANSIBLE_HOME", dir.join(".ansible"))
        .env("ANSIBLE_LOCAL_TEMP", &tmp)
        .env("ANSIBLE_REMOTE_TEMP", &tmp)
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_FORCE_COLOR", "0")
        .env("ANSIBLE_PYTHON_INTERPRETER", e.venv.join("bin/python3"))
        .env("LC_ALL", "C.UTF-8");
    c
}

/// A YAML (JSON) string for a path.
fn q(p: &Path) -> String {
    serde_json::to_string(&p.to_string_lossy()).unwrap()
}

/// Write a playbook of `tasks` (YAML, each a list item at two spaces of indent) for
/// `hosts`, with a last task that dumps every registered variable to results.json.
fn write_playbook(dir: &Path, hosts: &str, tasks: &str) -> PathBuf {
    let names: Vec<&str> = tasks
        .lines()
        .filter_map(|l| l.trim().strip_prefix("register: "))
        .collect();
    let dump: Vec<String> = names
        .iter()
        .map(|n| format!("'{n}': {n} | default(None)"))
        .collect();
    let results = dir.join("results.json");
    let book = format!(
        "- hosts: {hosts}\n  gather_facts: false\n  tasks:\n{tasks}\n  - name: dump the results\n    check_mode: false\n    delegate_to: localhost\n    run_once: true\n    ansible.builtin.copy:\n      dest: {}\n      content: \"{{{{ {{{} }} | to_json }}}}\"\n",
        q(&results),
        dump.join(", ")
    );
    let p = dir.join("play.yml");
    fs::write(&p, book).unwrap();
    p
}

/// Run a playbook on localhost; returns the run and the registered results.
fn play(dir: &Path, tasks: &str, extra: &[&str]) -> (Run, Value) {
    let book = write_playbook(dir, "all", tasks);
    let mut c = ansible(dir, "ansible-playbook");
    c.args(["-i", "localhost,", "-c", "local"])
        .args(extra)
        .arg(&book);
    let _ = fs::remove_file(dir.join("results.json"));
    let r = run(c);
    let results = fs::read_to_string(dir.join("results.json"))
        .map(|s| serde_json::from_str(&s).unwrap())
        .unwrap_or(Value::Null);
    (r, results)
}

/// Like [`play`], asserting that the playbook itself succeeded.
#[track_caller]
fn play_ok(dir: &Path, tasks: &str, extra: &[&str]) -> Value {
    let (r, v) = play(dir, tasks, extra);
    r.ok();
    v
}

fn field<'a>(v: &'a Value, reg: &str, key: &str) -> &'a Value {
    &v[reg][key]
}

#[track_caller]
fn changed(v: &Value, reg: &str) -> bool {
    assert_eq!(
        v[reg]["failed"].as_bool(),
        Some(false),
        "{reg} failed: {}",
        v[reg]
    );
    v[reg]["changed"].as_bool().unwrap()
}

/// getcap's text for a file (the oracle), or "" when it has no capabilities.
fn getcap_caps(p: &Path) -> String {
    let out = getcap(&[p.as_os_str()]);
    out.split_whitespace().nth(1).unwrap_or("").to_string()
}

/// Each spelling of the same capabilities: changed the first time, ok the second, and
/// the file carries exactly what getcap shows.
#[test]
fn capability_every_spelling_changes_once() {
    let d = tempdir();
    // (task arguments, what getcap must show after)
    let cases: &[(&str, &str)] = &[
        ("caps: ['cap_net_raw+ep']", "cap_net_raw=ep"),
        ("caps: ['cap_net_raw=pe']", "cap_net_raw=ep"),
        ("caps: [cap_net_raw]\n      flags: pe", "cap_net_raw=ep"),
        (
            "caps: [cap_net_raw, cap_net_admin]",
            "cap_net_admin,cap_net_raw=ep",
        ),
        (
            "caps: [CAP_NET_ADMIN, net_raw]\n      flags: EP",
            "cap_net_admin,cap_net_raw=ep",
        ),
        ("caps: ['CAP_NET_RAW=PE']", "cap_net_raw=ep"),
        (
            "caps: ['cap_net_raw,cap_chown=p']\n      state: exact",
            "cap_chown,cap_net_raw=p",
        ),
        (
            "caps: [cap_chown, CAP_NET_RAW]\n      flags: p\n      state: exact",
            "cap_chown,cap_net_raw=p",
        ),
    ];
    let mut tasks = String::new();
    for (i, (args, _)) in cases.iter().enumerate() {
        let f = copy_prog(d.path(), &format!("f{i}"));
        for run in ["a", "b"] {
            tasks += &format!(
                "  - fcap.caps.capability:\n      path: {}\n      {args}\n    register: r{i}{run}\n",
                q(&f)
            );
        }
        // A third spelling of the same value on the second pass is a no-op too.
    }
    let v = play_ok(d.path(), &tasks, &[]);
    for (i, (args, want)) in cases.iter().enumerate() {
        let f = d.path().join(format!("f{i}"));
        assert!(changed(&v, &format!("r{i}a")), "first run of {args}");
        assert!(
            !changed(&v, &format!("r{i}b")),
            "second run of {args}: {}",
            v[format!("r{i}b")]
        );
        assert_eq!(getcap_caps(&f), *want, "{args}");
        assert_eq!(field(&v, &format!("r{i}b"), "after"), *want);
        assert_eq!(field(&v, &format!("r{i}a"), "before"), &Value::Null);
    }
}

/// `state: exact` takes every spelling `present` takes (short names, upper case, the
/// `CAP_` prefix, numbers, flags in any order and case, one item with its own flags): the
/// first run replaces what the file had, every other spelling of the same value after it
/// is `ok`, and getcap shows the value each time.
#[test]
fn capability_exact_takes_every_spelling_and_is_idempotent_across_them() {
    let d = tempdir();
    let f = copy_prog(d.path(), "f");
    setcap_on(&f, &["cap_kill,cap_net_admin=ep"]);
    let spellings = [
        "caps: [net_raw, chown]\n      flags: p",
        "caps: [CAP_CHOWN, CAP_NET_RAW]\n      flags: P",
        "caps: [Net_Raw, cap_chown]\n      flags: p",
        "caps: [13, '0']\n      flags: p",
        "caps: ['NET_RAW,chown=P']",
        "caps: ['CAP_CHOWN,CAP_NET_RAW+p']",
        "caps: ['cap_chown,cap_net_raw=p']",
        "caps: ['cap_net_raw=p cap_chown=p']",
    ];
    let mut tasks = String::new();
    for (i, args) in spellings.iter().enumerate() {
        tasks += &format!(
            "  - fcap.caps.capability:\n      path: {}\n      state: exact\n      {args}\n    register: r{i}\n",
            q(&f)
        );
    }
    // Effective too, in upper case, on a second file: the flags are read the same way.
    let g = copy_prog(d.path(), "g");
    for (reg, args) in [
        ("e0", "caps: [net_bind_service]\n      flags: PE"),
        ("e1", "caps: ['CAP_NET_BIND_SERVICE=eP']"),
        ("e2", "caps: [cap_net_bind_service]"),
    ] {
        tasks += &format!(
            "  - fcap.caps.capability:\n      path: {}\n      state: exact\n      {args}\n    register: {reg}\n",
            q(&g)
        );
    }
    let v = play_ok(d.path(), &tasks, &[]);
    assert!(changed(&v, "r0"), "{}", v["r0"]);
    assert_eq!(field(&v, "r0", "before"), "cap_kill,cap_net_admin=ep");
    for (i, args) in spellings.iter().enumerate() {
        let r = format!("r{i}");
        assert_eq!(field(&v, &r, "after"), "cap_chown,cap_net_raw=p", "{args}");
        if i > 0 {
            assert!(!changed(&v, &r), "{args}: {}", v[&r]);
        }
    }
    assert_eq!(getcap_caps(&f), "cap_chown,cap_net_raw=p");
    assert!(changed(&v, "e0"), "{}", v["e0"]);
    for r in ["e1", "e2"] {
        assert!(!changed(&v, r), "{r}: {}", v[r]);
    }
    assert_eq!(getcap_caps(&g), "cap_net_bind_service=ep");
}

/// `=pe` on a file that has `=ep`, and two caps in the other order: nothing to do.
#[test]
fn capability_other_spellings_of_the_present_value_are_ok() {
    let d = tempdir();
    let f = copy_prog(d.path(), "f");
    setcap_on(&f, &["cap_net_admin,cap_net_raw=ep"]);
    let before = raw_xattr(&f);
    let tasks = format!(
        "  - fcap.caps.capability: {{path: {p}, caps: ['cap_net_raw=pe']}}\n    register: a\n\
         \x20 - fcap.caps.capability: {{path: {p}, caps: [net_raw, CAP_NET_ADMIN]}}\n    register: b\n\
         \x20 - fcap.caps.capability: {{path: {p}, caps: ['cap_net_raw,cap_net_admin+ep'], state: exact}}\n    register: c\n",
        p = q(&f)
    );
    let v = play_ok(d.path(), &tasks, &[]);
    for r in ["a", "b", "c"] {
        assert!(!changed(&v, r), "{r}: {}", v[r]);
    }
    assert_eq!(raw_xattr(&f), before);
}

/// `--check --diff` on the command line predicts exactly what the real run then does,
/// writes nothing (xattr bytes compared), and shows before/after.
#[test]
fn capability_check_mode_predicts_and_touches_nothing() {
    let d = tempdir();
    let none = copy_prog(d.path(), "none");
    let other = copy_prog(d.path(), "other");
    setcap_on(&other, &["cap_chown=ep"]);
    let same = copy_prog(d.path(), "same");
    setcap_on(&same, &["cap_net_raw=ep"]);
    let last = copy_prog(d.path(), "last");
    setcap_on(&last, &["cap_kill=ep"]);
    let exact = copy_prog(d.path(), "exact");
    setcap_on(&exact, &["cap_chown,cap_kill=eip"]);
    let files = [&none, &other, &same, &last, &exact];
    let tasks = format!(
        "  - fcap.caps.capability: {{path: {}, caps: [cap_net_raw]}}\n    register: c_none\n\
         \x20 - fcap.caps.capability: {{path: {}, caps: [cap_net_raw]}}\n    register: c_other\n\
         \x20 - fcap.caps.capability: {{path: {}, caps: ['cap_net_raw+ep']}}\n    register: c_same\n\
         \x20 - fcap.caps.capability: {{path: {}, caps: [cap_kill], state: absent}}\n    register: c_last\n\
         \x20 - fcap.caps.capability: {{path: {}, caps: [cap_setuid], flags: p, state: exact}}\n    register: c_exact\n",
        q(&none),
        q(&other),
        q(&same),
        q(&last),
        q(&exact)
    );
    let bytes: Vec<_> = files.iter().map(|f| raw_xattr(f)).collect();
    let (r, check) = play(d.path(), &tasks, &["--check", "--diff"]);
    r.ok();
    let now: Vec<_> = files.iter().map(|f| raw_xattr(f)).collect();
    assert_eq!(bytes, now, "--check wrote an xattr");
    // The diff shows the canonical values before and after.
    let out = r.stdout();
    let header = format!("--- before: {} (security.capability)", none.display());
    for want in [
        header.as_str(),
        "+cap_net_raw=ep",
        "-cap_chown=ep",
        "+cap_chown,cap_net_raw=ep",
        "-cap_kill=ep",
        "-cap_chown,cap_kill=eip",
        "+cap_setuid=p",
    ] {
        assert!(out.contains(want), "--diff output lacks {want:?}:\n{out}");
    }
    let (r, real) = play(d.path(), &tasks, &[]);
    r.ok();
    for reg in ["c_none", "c_other", "c_same", "c_last", "c_exact"] {
        for key in ["changed", "before", "after", "target"] {
            assert_eq!(
                check[reg][key], real[reg][key],
                "check mode's {key} of {reg} differs from the real run"
            );
        }
    }
    assert_eq!(
        [
            changed(&real, "c_none"),
            changed(&real, "c_other"),
            changed(&real, "c_same"),
            changed(&real, "c_last"),
            changed(&real, "c_exact"),
        ],
        [true, true, false, true, true]
    );
    assert_eq!(getcap_caps(&other), "cap_chown,cap_net_raw=ep");
    assert_eq!(getcap_caps(&exact), "cap_setuid=p");
    // The last capability removed: no attribute at all, not an empty '='.
    assert_eq!(raw_xattr(&last), None);
}

/// A symlink is followed, the target is returned and written; follow: false refuses it
/// with fcap's message; absent of the last capability leaves no attribute.
#[test]
fn capability_symlink_target_and_absent() {
    let d = tempdir();
    let real = copy_prog(d.path(), "real");
    let link = d.path().join("link");
    symlink(&real, &link).unwrap();
    let tasks = format!(
        "  - fcap.caps.capability: {{path: {l}, caps: [cap_net_bind_service]}}\n    register: grant\n\
         \x20 - fcap.caps.capability: {{path: {l}, caps: [cap_net_bind_service], follow: false}}\n    register: nofollow\n    ignore_errors: true\n\
         \x20 - fcap.caps.capability: {{path: {l}, caps: [cap_net_bind_service], state: absent}}\n    register: absent\n\
         \x20 - fcap.caps.capability: {{path: {l}, caps: [cap_net_bind_service], state: absent}}\n    register: again\n",
        l = q(&link)
    );
    let v = play_ok(d.path(), &tasks, &[]);
    assert!(changed(&v, "grant"));
    assert_eq!(v["grant"]["target"], real.to_string_lossy().as_ref());
    assert_eq!(v["grant"]["path"], link.to_string_lossy().as_ref());
    assert_eq!(v["nofollow"]["failed"], true);
    let fcap_says = fcap_run([
        os("grant"),
        os("--no-dereference"),
        os("cap_net_bind_service"),
        link.as_os_str(),
    ]);
    assert_eq!(fcap_says.code(), 2);
    assert_eq!(
        v["nofollow"]["msg"].as_str().unwrap(),
        fcap_says.stderr().trim_end()
    );
    assert!(changed(&v, "absent"));
    assert_eq!(v["absent"]["after"], Value::Null);
    assert!(!changed(&v, "again"));
    assert_eq!(
        raw_xattr(&real),
        None,
        "absent of the last cap left an xattr"
    );
}

/// A missing path and a bad capability name fail the task with fcap's own message.
#[test]
fn capability_errors_are_fcaps_messages() {
    let d = tempdir();
    let f = copy_prog(d.path(), "f");
    let missing = d.path().join("missing");
    let tasks = format!(
        "  - fcap.caps.capability: {{path: {m}, caps: [cap_net_raw]}}\n    register: missing\n    ignore_errors: true\n\
         \x20 - fcap.caps.capability: {{path: {f}, caps: [cap_bogus]}}\n    register: badname\n    ignore_errors: true\n\
         \x20 - fcap.caps.capability: {{path: {f}, caps: [cap_net_raw], fcap_path: {nofcap}}}\n    register: nobin\n    ignore_errors: true\n",
        m = q(&missing),
        f = q(&f),
        nofcap = q(&d.path().join("no-such-fcap"))
    );
    let v = play_ok(d.path(), &tasks, &[]);
    let say = |caps: &str, p: &Path| {
        let r = fcap_run([os("grant"), os(caps), p.as_os_str()]);
        assert_eq!(r.code(), 2);
        r.stderr().trim_end().to_string()
    };
    assert_eq!(v["missing"]["failed"], true);
    assert_eq!(v["missing"]["msg"], say("cap_net_raw", &missing));
    assert_eq!(v["badname"]["failed"], true);
    assert_eq!(v["badname"]["msg"], say("cap_bogus", &f));
    assert!(v["badname"]["msg"].as_str().unwrap().contains("cap_bogus"));
    assert_eq!(v["nobin"]["failed"], true);
    assert_eq!(raw_xattr(&f), None);
}

/// fcap's warnings (an interpreter gets capabilities) become Ansible warnings, once
/// (fcap gives them both in its JSON and on stderr).
#[test]
fn capability_fcap_warnings_are_ansible_warnings() {
    let d = tempdir();
    let py = d.path().join("python3");
    cp(Path::new("/usr/bin/python3"), &py);
    let tasks = format!(
        "  - fcap.caps.capability: {{path: {}, caps: [cap_net_raw]}}\n    register: w\n",
        q(&py)
    );
    let (r, v) = play(d.path(), &tasks, &[]);
    r.ok();
    assert!(changed(&v, "w"));
    let out = r.stdout() + &r.stderr();
    let want = format!("[WARNING]: '{}' is an interpreter", py.display());
    assert_eq!(
        out.matches(&want).count(),
        1,
        "the interpreter warning is not shown exactly once:\n{out}"
    );
}

/// A non-root run fails with fcap's message about CAP_SETFCAP and writes nothing.
#[test]
fn capability_as_nobody_fails_with_fcaps_message() {
    let d = tempdir();
    let f = copy_prog(d.path(), "f");
    let work = d.path().join("work");
    fs::create_dir(&work).unwrap();
    fs::set_permissions(&work, fs::Permissions::from_mode(0o777)).unwrap();
    let tasks = format!(
        "  - fcap.caps.capability: {{path: {}, caps: [cap_net_raw]}}\n    register: r\n    ignore_errors: true\n",
        q(&f)
    );
    // The playbook and its results live in a directory nobody may write.
    let book = write_playbook(&work, "all", &tasks);
    fs::write(
        work.join("ansible.cfg"),
        "[defaults]\nretry_files_enabled = False\n",
    )
    .unwrap();
    fs::create_dir_all(work.join(".ansible-tmp")).unwrap();
    fs::create_dir_all(work.join(".ansible")).unwrap();
    for p in [&work.join(".ansible-tmp"), &work.join(".ansible")] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o777)).unwrap();
    }
    let inner = ansible(&work, "ansible-playbook");
    let mut c = as_nobody(inner.get_program());
    c.args(["-i", "localhost,", "-c", "local"])
        .arg(&book)
        .current_dir(&work)
        .env("HOME", &work);
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    let r = run(c);
    r.ok();
    let v: Value =
        serde_json::from_str(&fs::read_to_string(work.join("results.json")).unwrap()).unwrap();
    assert_eq!(v["r"]["failed"], true, "{}", v["r"]);
    let mut c = fcap();
    c.args(["grant", "cap_net_raw"]).arg(&f);
    let mut s = as_nobody(c.get_program());
    s.args(c.get_args());
    let direct = run(s);
    assert_eq!(direct.code(), 2);
    assert!(
        direct.stderr().contains("CAP_SETFCAP"),
        "{}",
        direct.stderr()
    );
    assert_eq!(v["r"]["msg"], direct.stderr().trim_end());
    assert_eq!(raw_xattr(&f), None);
}

/// community.general.capabilities runs the same tasks: it reports changed on no-ops
/// (`+ep`, `=pe`, several caps in one string), cannot predict in check mode,
/// refuses symlinks, and leaves an empty value behind; fcap.caps.capability does none of
/// that. This is the table in the collection's README.
#[test]
fn community_general_side_by_side() {
    let d = tempdir();
    // (label, community.general args, fcap.caps args)
    let rows: &[(&str, &str, &str)] = &[
        (
            "plus",
            "capability: 'cap_net_raw+ep'",
            "caps: ['cap_net_raw+ep']",
        ),
        (
            "canonical",
            "capability: 'cap_net_raw=ep'",
            "caps: ['cap_net_raw=ep']",
        ),
        (
            "pe",
            "capability: 'cap_net_raw=pe'",
            "caps: ['cap_net_raw=pe']",
        ),
        (
            "two",
            "capability: 'cap_net_raw,cap_net_admin=ep'",
            "caps: [cap_net_raw, cap_net_admin]",
        ),
        (
            "upper",
            "capability: 'CAP_NET_RAW=EP'",
            "caps: ['CAP_NET_RAW=EP']",
        ),
    ];
    let mut tasks = String::new();
    for (label, cg, fc) in rows {
        let a = copy_prog(d.path(), &format!("cg-{label}"));
        let b = copy_prog(d.path(), &format!("fc-{label}"));
        for n in ["1", "2"] {
            tasks += &format!(
                "  - community.general.capabilities:\n      path: {}\n      {cg}\n    register: cg_{label}_{n}\n    ignore_errors: true\n",
                q(&a)
            );
            tasks += &format!(
                "  - fcap.caps.capability:\n      path: {}\n      {fc}\n    register: fc_{label}_{n}\n",
                q(&b)
            );
        }
    }
    // Check and diff mode on a file that already carries the value.
    let pre_a = copy_prog(d.path(), "cg-check");
    let pre_b = copy_prog(d.path(), "fc-check");
    setcap_on(&pre_a, &["cap_net_raw=ep"]);
    setcap_on(&pre_b, &["cap_net_raw=ep"]);
    tasks += &format!(
        "  - community.general.capabilities: {{path: {}, capability: 'cap_net_raw+ep'}}\n    check_mode: true\n    diff: true\n    register: cg_check\n\
         \x20 - fcap.caps.capability: {{path: {}, caps: ['cap_net_raw+ep']}}\n    check_mode: true\n    diff: true\n    register: fc_check\n",
        q(&pre_a),
        q(&pre_b)
    );
    // A symlink.
    let ra = copy_prog(d.path(), "cg-real");
    let rb = copy_prog(d.path(), "fc-real");
    let la = d.path().join("cg-link");
    let lb = d.path().join("fc-link");
    symlink(&ra, &la).unwrap();
    symlink(&rb, &lb).unwrap();
    tasks += &format!(
        "  - community.general.capabilities: {{path: {}, capability: 'cap_net_raw=ep'}}\n    register: cg_link\n    ignore_errors: true\n\
         \x20 - fcap.caps.capability: {{path: {}, caps: [cap_net_raw]}}\n    register: fc_link\n",
        q(&la),
        q(&lb)
    );
    // Removing the last capability.
    let xa = copy_prog(d.path(), "cg-last");
    let xb = copy_prog(d.path(), "fc-last");
    setcap_on(&xa, &["cap_net_raw=ep"]);
    setcap_on(&xb, &["cap_net_raw=ep"]);
    tasks += &format!(
        "  - community.general.capabilities: {{path: {}, capability: 'cap_net_raw', state: absent}}\n    register: cg_last\n    ignore_errors: true\n\
         \x20 - fcap.caps.capability: {{path: {}, caps: [cap_net_raw], state: absent}}\n    register: fc_last\n",
        q(&xa),
        q(&xb)
    );
    let v = play_ok(d.path(), &tasks, &[]);
    let cg_noop_changed = |label: &str| {
        let r = &v[format!("cg_{label}_2")];
        assert_eq!(r["failed"], false, "community.general {label}: {r}");
        r["changed"].as_bool().unwrap()
    };
    // community.general: changed again on the second run, except for getcap's own
    // spelling (which it lowercases first, so upper case passes).
    assert!(cg_noop_changed("plus"));
    assert!(!cg_noop_changed("canonical"));
    assert!(cg_noop_changed("pe"));
    assert!(cg_noop_changed("two"));
    assert!(!cg_noop_changed("upper"));
    // fcap.caps: changed once, then ok, for every spelling.
    for (label, _, _) in rows {
        assert!(changed(&v, &format!("fc_{label}_1")), "{label}");
        assert!(!changed(&v, &format!("fc_{label}_2")), "{label}");
    }
    assert_eq!(
        v["cg_check"]["changed"], true,
        "community.general check mode"
    );
    assert_eq!(
        v["cg_check"]["diff"],
        Value::Null,
        "community.general has no diff"
    );
    assert!(!changed(&v, "fc_check"));
    assert_eq!(v["fc_check"]["diff"]["before"], "cap_net_raw=ep\n");
    assert_eq!(v["fc_check"]["diff"]["after"], "cap_net_raw=ep\n");
    assert_eq!(v["cg_link"]["failed"], true);
    assert!(
        v["cg_link"]["stdout"]
            .as_str()
            .unwrap()
            .contains("Not a regular file"),
        "{}",
        v["cg_link"]
    );
    assert!(changed(&v, "fc_link"));
    assert_eq!(getcap_caps(&rb), "cap_net_raw=ep");
    // community.general leaves an empty value (a 20-byte xattr with no capability);
    // fcap.caps removes the attribute.
    assert_eq!(v["cg_last"]["failed"], false, "{}", v["cg_last"]);
    let left = raw_xattr(&xa).expect("community.general removed the xattr");
    assert!(left[4..].iter().all(|b| *b == 0), "{left:?}");
    assert_eq!(raw_xattr(&xb), None);
}

/// fcap.caps.manifest: check mode predicts and writes nothing, the real run applies,
/// the second run is ok; src and content; a bad manifest fails with fcap's message.
#[test]
fn manifest_module_applies_idempotently() {
    let d = tempdir();
    let a = copy_prog(d.path(), "a");
    let b = copy_prog(d.path(), "b");
    setcap_on(&b, &["cap_kill=ep"]);
    let c = copy_prog(d.path(), "c");
    setcap_on(&c, &["cap_chown=p"]);
    let content = format!(
        "# reviewed\n{} cap_net_raw=ep\n{} cap_kill+ep\n",
        a.display(),
        b.display()
    );
    let src = d.path().join("c.caps");
    fs::write(&src, format!("{} cap_setuid=ep\n", c.display())).unwrap();
    let bad = d.path().join("bad.caps");
    fs::write(&bad, format!("{} cap_bogus=ep\n", a.display())).unwrap();
    let content_yaml = serde_json::to_string(&content).unwrap();
    // The system directory, as the package hook reads it.
    let sysdir = d.path().join("fcap.d");
    fs::create_dir(&sysdir).unwrap();
    let e = copy_prog(d.path(), "e");
    fs::write(
        sysdir.join("e.caps"),
        format!("{} cap_sys_time=ep\n", e.display()),
    )
    .unwrap();
    // --check --diff first, alone: it predicts and writes nothing.
    let check_task =
        format!("  - fcap.caps.manifest: {{content: {content_yaml}}}\n    register: check\n");
    let before: Vec<_> = [&a, &b, &c].iter().map(|f| raw_xattr(f)).collect();
    let (r, check) = play(d.path(), &check_task, &["--check", "--diff"]);
    r.ok();
    let after: Vec<_> = [&a, &b, &c].iter().map(|f| raw_xattr(f)).collect();
    assert_eq!(before, after, "--check wrote an xattr");
    assert!(
        r.stdout()
            .contains(&format!("+{} cap_net_raw=ep", a.display())),
        "{}",
        r.stdout()
    );
    assert!(changed(&check, "check"));
    assert_eq!(
        check["check"]["changed_files"],
        serde_json::json!([a.to_string_lossy()])
    );
    assert_eq!(
        check["check"]["diff"]["before"],
        format!("{} (none)\n", a.display())
    );
    assert_eq!(
        check["check"]["diff"]["after"],
        format!("{} cap_net_raw=ep\n", a.display())
    );
    let tasks = format!(
        "  - fcap.caps.manifest: {{content: {content_yaml}}}\n    register: real\n\
         \x20 - fcap.caps.manifest: {{content: {content_yaml}}}\n    register: again\n\
         \x20 - fcap.caps.manifest: {{src: {src}}}\n    register: src\n\
         \x20 - fcap.caps.manifest: {{src: {bad}}}\n    register: bad\n    ignore_errors: true\n\
         \x20 - fcap.caps.manifest: {{system: true, config_dir: {sysdir}}}\n    register: system\n\
         \x20 - fcap.caps.manifest: {{}}\n    register: nothing\n    ignore_errors: true\n",
        src = q(&src),
        bad = q(&bad),
        sysdir = q(&sysdir)
    );
    let v = play_ok(d.path(), &tasks, &[]);
    // The real run does what check mode said, file by file.
    let strip = |files: &Value| -> Vec<Value> {
        files
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                serde_json::json!([
                    f["path"],
                    f["before"],
                    f["after"],
                    f["changed"],
                    f["target"]
                ])
            })
            .collect()
    };
    assert_eq!(strip(&v["real"]["files"]), strip(&check["check"]["files"]));
    assert!(changed(&v, "real"));
    assert_eq!(v["real"]["changed_files"], check["check"]["changed_files"]);
    assert_eq!(v["real"]["files"].as_array().unwrap().len(), 2);
    assert!(!changed(&v, "again"));
    assert!(changed(&v, "src"));
    assert_eq!(getcap_caps(&a), "cap_net_raw=ep");
    assert_eq!(getcap_caps(&b), "cap_kill=ep");
    assert_eq!(getcap_caps(&c), "cap_setuid=ep");
    assert_eq!(v["bad"]["failed"], true);
    let direct = fcap_run([os("apply"), bad.as_os_str()]);
    assert_eq!(direct.code(), 2);
    assert_eq!(v["bad"]["msg"], direct.stderr().trim_end());
    assert_eq!(getcap_caps(&a), "cap_net_raw=ep", "a bad manifest wrote");
    assert!(changed(&v, "system"));
    assert_eq!(getcap_caps(&e), "cap_sys_time=ep");
    assert_eq!(v["nothing"]["failed"], true);
    assert_eq!(
        v["nothing"]["msg"],
        "one of src, content or system=true is required"
    );
}

/// fcap.caps.info returns every file with capabilities (as data and as facts), honours
/// exclude, reports drift against a manifest, and fails on a missing path.
#[test]
fn info_module_scans_and_reports_drift() {
    let d = tempdir();
    let tree = d.path().join("tree");
    fs::create_dir_all(tree.join("sub/skip")).unwrap();
    let a = copy_prog(&tree, "a");
    setcap_on(&a, &["cap_net_raw=ep"]);
    let b = copy_prog(&tree.join("sub"), "b");
    setcap_on(&b, &["cap_chown,cap_kill=p"]);
    let s = copy_prog(&tree.join("sub/skip"), "s");
    setcap_on(&s, &["cap_kill=ep"]);
    copy_prog(&tree, "plain");
    let manifest = format!(
        "{} cap_net_raw=ep\n{} cap_chown=p\n",
        a.display(),
        b.display()
    );
    let tasks = format!(
        "  - fcap.caps.info: {{paths: [{t}], exclude: [skip], register_facts: true}}\n    register: scan\n\
         \x20 - ansible.builtin.set_fact: {{seen: \"{{{{ fcap_files | map(attribute='path') | list }}}}\"}}\n\
         \x20 - ansible.builtin.debug: {{var: seen}}\n    register: facts\n\
         \x20 - fcap.caps.info: {{paths: [{t}], manifest_content: {m}}}\n    register: drift\n\
         \x20 - fcap.caps.info: {{paths: [{missing}]}}\n    register: missing\n    ignore_errors: true\n",
        t = q(&tree),
        m = serde_json::to_string(&manifest).unwrap(),
        missing = q(&d.path().join("missing"))
    );
    let v = play_ok(d.path(), &tasks, &[]);
    assert!(!changed(&v, "scan"));
    let files = v["scan"]["files"].as_array().unwrap();
    let got: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["caps"].as_str().unwrap()))
        .collect();
    let (ap, bp) = (a.to_string_lossy(), b.to_string_lossy());
    assert_eq!(
        got,
        [
            (ap.as_ref(), "cap_net_raw=ep"),
            (bp.as_ref(), "cap_chown,cap_kill=p")
        ]
    );
    assert_eq!(v["facts"]["seen"], serde_json::json!([ap, bp]));
    let drift = v["drift"]["drift"].as_array().unwrap();
    let got: Vec<(&str, &str)> = drift
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["status"].as_str().unwrap()))
        .collect();
    let sp = s.to_string_lossy();
    assert_eq!(
        got,
        [(bp.as_ref(), "different"), (sp.as_ref(), "unexpected")]
    );
    assert_eq!(v["missing"]["failed"], true);
    assert!(
        v["missing"]["msg"]
            .as_str()
            .unwrap()
            .contains("No such file or directory")
    );
}

/// fcap.caps.verify passes when the capability will be effective, fails with fcap's
/// reasons when it will not, and never reports a change.
#[test]
fn verify_module_requires() {
    let d = tempdir();
    let f = copy_prog(d.path(), "f");
    setcap_on(&f, &["cap_net_raw=ep"]);
    let tasks = format!(
        "  - fcap.caps.verify: {{path: {f}, user: nobody, require: [net_raw]}}\n    register: met\n\
         \x20 - fcap.caps.verify: {{path: {f}, user: nobody, require: [net_admin]}}\n    register: unmet\n    ignore_errors: true\n\
         \x20 - fcap.caps.verify: {{path: {f}, user: nobody, bounding: [chown], require: [net_raw]}}\n    register: eperm\n    ignore_errors: true\n",
        f = q(&f)
    );
    let v = play_ok(d.path(), &tasks, &[]);
    assert!(!changed(&v, "met"));
    assert_eq!(v["met"]["effective"], serde_json::json!(["cap_net_raw"]));
    assert_eq!(v["unmet"]["failed"], true);
    assert_eq!(v["unmet"]["changed"], false);
    assert_eq!(v["unmet"]["missing"], serde_json::json!(["cap_net_admin"]));
    let msg = v["unmet"]["msg"].as_str().unwrap();
    assert!(
        msg.starts_with("required capabilities not effective: cap_net_admin"),
        "{msg}"
    );
    assert_eq!(v["eperm"]["failed"], true);
    assert_eq!(v["eperm"]["exec"], "eperm");
    let msg = v["eperm"]["msg"].as_str().unwrap();
    assert!(msg.contains("bounding set"), "{msg}");
    assert_eq!(getcap_caps(&f), "cap_net_raw=ep");
}

/// fcap.caps.verify takes the runtime descriptors: the committed restricted pod gives
/// a `=ep` entrypoint its capability on containerd and not on Docker (issue 14's rule,
/// through the module).
#[test]
fn verify_module_reads_a_kubernetes_descriptor() {
    let d = tempdir();
    let f = copy_prog(d.path(), "f");
    setcap_on(&f, &["cap_net_bind_service=ep"]);
    let pod = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("doc/examples/k8s-restricted-web.yaml");
    let tasks = format!(
        "  - fcap.caps.verify: {{path: {f}, k8s: {pod}, container: web, require: [net_bind_service]}}\n    register: containerd\n\
         \x20 - fcap.caps.verify: {{path: {f}, k8s: {pod}, container: web, runtime: docker, require: [net_bind_service]}}\n    register: docker\n    ignore_errors: true\n",
        f = q(&f),
        pod = q(&pod)
    );
    let v = play_ok(d.path(), &tasks, &[]);
    assert!(!changed(&v, "containerd"));
    assert_eq!(
        v["containerd"]["effective"],
        serde_json::json!(["cap_net_bind_service"])
    );
    assert_eq!(v["docker"]["failed"], true, "{}", v["docker"]);
    assert_eq!(
        v["docker"]["missing"],
        serde_json::json!(["cap_net_bind_service"])
    );
}

/// The role fcap.caps.install copies the binary to a host that lacks it, once.
#[test]
fn install_role_installs_once() {
    let d = tempdir();
    let dest = d.path().join("bin/fcap");
    fs::create_dir(d.path().join("bin")).unwrap();
    let tasks = format!(
        "  - ansible.builtin.include_role:\n      name: fcap.caps.install\n    vars:\n      fcap_install_src: {}\n      fcap_install_dest: {}\n\
         \x20 - ansible.builtin.command: {{argv: [{}, --version]}}\n    register: version\n",
        q(Path::new(env!("CARGO_BIN_EXE_fcap"))),
        q(&dest),
        q(&dest)
    );
    let (r1, v) = play(d.path(), &tasks, &[]);
    r1.ok();
    assert!(
        r1.stdout().contains("changed: [localhost]"),
        "{}",
        r1.stdout()
    );
    assert!(
        v["version"]["stdout"]
            .as_str()
            .unwrap()
            .starts_with("fcap ")
    );
    let mode = fs::metadata(&dest).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    let before = fs::metadata(&dest).unwrap().modified().unwrap();
    let (r2, _) = play(d.path(), &tasks, &[]);
    r2.ok();
    let recap = r2.stdout();
    assert!(
        recap.contains("TASK [fcap.caps.install : Copy the static fcap binary]")
            && recap.contains("skipping: [localhost]"),
        "{recap}"
    );
    assert_eq!(fs::metadata(&dest).unwrap().modified().unwrap(), before);
}

/// The fleet audit playbook over four inventory hosts (each a local connection over its
/// own tree), forks 4: one JSON, CSV and Markdown report with drift and `fcap audit`
/// findings per host (h1's policy allows its su; h3 has no policy).
#[test]
fn fleet_audit_reports_every_host() {
    let d = tempdir();
    let mut inv = String::from("[fleet]\n");
    for h in ["h1", "h2", "h3", "h4"] {
        let t = d.path().join(h);
        fs::create_dir(&t).unwrap();
        let ping = copy_prog(&t, "ping");
        setcap_on(&ping, &["cap_net_raw=ep"]);
        copy_prog(&t, "plain");
        inv += &format!("{h} fcap_audit_paths='[{}]'", q(&t));
        if h == "h1" || h == "h2" {
            let m = d.path().join(format!("{h}.caps"));
            fs::write(&m, format!("{} cap_net_raw=ep\n", ping.display())).unwrap();
            inv += &format!(" fcap_audit_manifest={}", m.display());
        }
        inv += "\n";
    }
    // h2 has a binary nobody reviewed; h3 has no manifest; h4's tree is gone.
    let extra = copy_prog(&d.path().join("h2"), "dumpcap");
    setcap_on(&extra, &["cap_net_admin,cap_net_raw=eip"]);
    // Set-ID copies of su on h1 (allowed by its policy) and h3, python3 with
    // cap_setuid on h2.
    let setuid = |h: &str| {
        let su = d.path().join(h).join("su");
        cp(Path::new("/usr/bin/su"), &su);
        fs::set_permissions(&su, fs::Permissions::from_mode(0o4755)).unwrap();
        su
    };
    let su1 = setuid("h1");
    setuid("h3");
    let py = d.path().join("h2/python3");
    cp(Path::new("/usr/bin/python3"), &py);
    setcap_on(&py, &["cap_setuid=ep"]);
    let policy = d.path().join("h1-policy.yaml");
    fs::write(
        &policy,
        format!(
            "exceptions:\n  - rule: FC150\n    path: {}\n    reason: operators\n",
            su1.display()
        ),
    )
    .unwrap();
    inv = inv.replacen(
        "h1 ",
        &format!("h1 fcap_audit_policy={} ", policy.display()),
        1,
    );
    fs::remove_dir_all(d.path().join("h4")).unwrap();
    inv += "[fleet:vars]\nansible_connection=local\n";
    fs::write(d.path().join("inventory"), inv).unwrap();
    let report = d.path().join("report");
    let mut c = ansible(d.path(), "ansible-playbook");
    c.args([
        "-i",
        "inventory",
        "--forks",
        "4",
        "fcap.caps.fleet_audit",
        "-e",
    ])
    .arg(format!("fcap_audit_report_dir={}", report.display()));
    let r = run(c);
    r.ok();
    let p = |h: &str, f: &str| d.path().join(h).join(f).display().to_string();
    let csv = fs::read_to_string(report.join("fleet.csv")).unwrap();
    let missing = format!(
        "fcap: '{}': No such file or directory",
        d.path().join("h4").display()
    );
    let want = format!(
        "host,path,caps,drift,expected,message\n\
         \"h1\",\"{}\",\"cap_net_raw=ep\",\"ok\",\"cap_net_raw=ep\",\"\"\n\
         \"h2\",\"{}\",\"cap_net_admin,cap_net_raw=eip\",\"unexpected\",\"\",\"\"\n\
         \"h2\",\"{}\",\"cap_net_raw=ep\",\"ok\",\"cap_net_raw=ep\",\"\"\n\
         \"h2\",\"{}\",\"cap_setuid=ep\",\"unexpected\",\"\",\"\"\n\
         \"h3\",\"{}\",\"cap_net_raw=ep\",\"\",\"\",\"\"\n\
         \"h4\",\"\",\"\",\"error\",\"\",\"{missing}\"\n",
        p("h1", "ping"),
        p("h2", "dumpcap"),
        p("h2", "ping"),
        p("h2", "python3"),
        p("h3", "ping"),
    );
    assert_eq!(csv, want);
    let md = fs::read_to_string(report.join("fleet.md")).unwrap();
    assert!(
        md.contains(&format!(
            "| h2 | {} | cap_net_admin,cap_net_raw=eip | unexpected |  |",
            p("h2", "dumpcap")
        )),
        "{md}"
    );
    assert!(
        md.contains("4 hosts, 5 files with capabilities or drift, 2 drifted, 1 hosts in error."),
        "{md}"
    );
    let json: Value =
        serde_json::from_str(&fs::read_to_string(report.join("fleet.json")).unwrap()).unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), 6);
    assert_eq!(json["hosts"]["h3"]["files"][0]["path"], p("h3", "ping"));
    assert_eq!(json["hosts"]["h3"]["drift"], Value::Null);
    assert_eq!(json["hosts"]["h4"]["error"], missing);
    // The audit findings, per host, as `fcap audit --json` prints them.
    let findings = |h: &str| -> Vec<(String, String, String)> {
        json["hosts"][h]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["rule"].as_str().unwrap().to_string(),
                    f["path"].as_str().unwrap().to_string(),
                    f["severity"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let t = |r: &str, h: &str, f: &str, s: &str| (r.to_string(), p(h, f), s.to_string());
    assert_eq!(findings("h1"), []);
    assert_eq!(
        findings("h2"),
        [
            t("FC102", "h2", "dumpcap", "warning"),
            t("FC103", "h2", "dumpcap", "warning"),
            t("FC130", "h2", "dumpcap", "note"),
            t("FC101", "h2", "python3", "error"),
            t("FC110", "h2", "python3", "error"),
        ]
    );
    assert_eq!(findings("h3"), [t("FC150", "h3", "su", "error")]);
    assert_eq!(findings("h4"), []);
    assert_eq!(json["hosts"]["h4"]["audit_error"], missing);
    assert_eq!(json["hosts"]["h1"]["audit_error"], Value::Null);
    let csv = fs::read_to_string(report.join("fleet_findings.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "host,rule,severity,path,caps,message");
    assert_eq!(rows.len(), 1 + 6 + 1, "{csv}");
    let su3 = format!("\"h3\",\"FC150\",\"error\",\"{}\",\"\",", p("h3", "su"));
    assert!(rows.iter().any(|r| r.starts_with(&su3)), "{csv}");
    assert!(
        rows.contains(&format!("\"h4\",\"\",\"error\",\"\",\"\",\"{missing}\"").as_str()),
        "{csv}"
    );
    assert!(
        md.contains(
            "6 findings: 3 errors on 2 hosts, 1 hosts with root-equivalent capabilities (FC101)."
        ),
        "{md}"
    );
    assert!(
        md.contains(&format!("| h2 | FC101 | error | {} |", p("h2", "python3"))),
        "{md}"
    );
}

/// A copy of the collection where ansible-test wants it (…/ansible_collections/NS/NAME).
fn collection_copy(dir: &Path) -> PathBuf {
    let dest = dir.join("ansible_collections/fcap");
    fs::create_dir_all(&dest).unwrap();
    let st = Command::new("cp")
        .arg("-r")
        .arg(root().join(COLLECTION))
        .arg(&dest)
        .status()
        .unwrap();
    assert!(st.success());
    let caps = dest.join("caps");
    let _ = fs::remove_dir_all(caps.join("tests/output"));
    caps
}

fn ansible_test(coll: &Path, args: &[&str]) -> Run {
    let e = env();
    let mut c = Command::new(e.venv.join("bin/ansible-test"));
    let py = run({
        let mut p = Command::new(e.venv.join("bin/python3"));
        p.args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]);
        p
    });
    c.args(args)
        .args(["--python", py.stdout().trim(), "--venv", "--color", "no"])
        .current_dir(coll)
        .env("HOME", &e.home)
        .env(
            "PATH",
            format!("{}:{}", e.venv.join("bin").display(), path_with_fcap()),
        );
    run(c)
}

/// ansible-test sanity (validate-modules, compile, import) passes offline, and the same
/// run fails on a module whose documentation disagrees with its arguments.
#[test]
fn ansible_test_sanity() {
    let d = tempdir();
    let coll = collection_copy(d.path());
    let tests = [
        "sanity",
        "--test",
        "validate-modules",
        "--test",
        "compile",
        "--test",
        "import",
    ];
    let r = ansible_test(&coll, &tests);
    r.ok();
    for t in ["compile", "import", "validate-modules"] {
        let line = format!("Running sanity test \"{t}\"");
        assert!(r.stdout().contains(&line), "{}", r.stdout());
    }
    // The same check catches a real mistake: an option the documentation does not know.
    let m = coll.join("plugins/modules/verify.py");
    let src = fs::read_to_string(&m).unwrap();
    let broken = src.replacen(
        "        noroot=dict(type='bool', default=False),",
        "        noroot=dict(type='bool', default=False),\n        undocumented=dict(type='str'),",
        1,
    );
    assert_ne!(src, broken);
    fs::write(&m, broken).unwrap();
    let r = ansible_test(&coll, &["sanity", "--test", "validate-modules"]);
    assert_ne!(r.code(), 0);
    assert!(
        (r.stdout() + &r.stderr()).contains("undocumented-parameter"),
        "{}{}",
        r.stdout(),
        r.stderr()
    );
}

/// ansible-test units passes offline, and runs the collection's tests.
#[test]
fn ansible_test_units() {
    let d = tempdir();
    let coll = collection_copy(d.path());
    let r = ansible_test(&coll, &["units"]);
    r.ok();
    let out = r.stdout();
    // pytest's closing line for each directory of tests: "N passed in S", no failure.
    let closing: Vec<&str> = out.lines().filter(|l| l.contains(" passed in ")).collect();
    assert_eq!(closing.len(), 2, "{out}");
    for l in closing {
        assert!(!l.contains("failed") && !l.contains(" 0 passed"), "{l}");
    }
}

/// The collection's own integration target runs under `ansible-test integration`
/// (locally, as root), so its maintainers can run it without this crate.
#[test]
fn ansible_test_integration() {
    let d = tempdir();
    let coll = collection_copy(d.path());
    let r = ansible_test(&coll, &["integration", "capability"]);
    r.ok();
    let out = r.stdout();
    assert!(out.contains("All assertions passed"), "{out}");
    assert!(out.contains("failed=0"), "{out}");
}

/// rootid writes a namespaced (v3) value, getcap -n shows it, and the second run is ok.
#[test]
fn capability_rootid_writes_v3() {
    let d = tempdir();
    let f = copy_prog(d.path(), "f");
    let tasks = format!(
        "  - fcap.caps.capability: {{path: {p}, caps: [cap_net_raw], rootid: 1000}}\n    register: a\n\
         \x20 - fcap.caps.capability: {{path: {p}, caps: [cap_net_raw], rootid: 1000}}\n    register: b\n",
        p = q(&f)
    );
    let v = play_ok(d.path(), &tasks, &[]);
    assert!(changed(&v, "a"));
    assert!(!changed(&v, "b"), "{}", v["b"]);
    assert_eq!(v["a"]["rootid"], 1000);
    assert_eq!(
        getcap(&[os("-n"), f.as_os_str()]).trim_end(),
        format!("{} cap_net_raw=ep [rootid=1000]", f.display())
    );
    assert_eq!(raw_xattr(&f).unwrap().len(), 24, "not a v3 value");
}
