//! `verify --pid` of a process in a user namespace, against the same process's real
//! exec. Root forks a child that enters a new user namespace, writes the child's
//! `uid_map` and `gid_map` itself (root may write any map from the parent namespace),
//! and the child switches to a uid inside; verify reads it while it waits, then it
//! execs the file with a bare `execve`.
//!
//! What differs from the initial namespace (kernel-exec.md E10, and `bprm_fill_uid`,
//! `capable_wrt_inode_uidgid`, `handle_privileged_root`, `rootid_owns_currentns` in
//! Linux 6.18): set-ID bits count only when the file's owner and group are both
//! mapped; CAP_DAC_OVERRIDE counts only over a file whose owner and group are mapped;
//! root is uid 0 of the namespace; a namespaced (v3) value applies when its rootid is
//! uid 0 of the namespace (or of an ancestor).
//!
//! The random test is seeded: `FCAP_VERIFY_SEED` replays a run, `FCAP_VERIFY_CASES`
//! sets the number of cases (default 60).

use crate::util::*;
use crate::verify::{Observed, names_to_bits, parse_output, v2};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// `ns_exec UID_MAP GID_MAP UID GID FILE`: fork a child into a new user namespace,
/// write its maps from here, let it take UID/GID inside (no supplementary groups),
/// print `ready PID`, wait for a line on stdin, then execve FILE (printing its
/// `/proc/self/status` with `LD_SHOW_AUXV=1`, or `errno N`).
const NS_EXEC: &str = r#"
import ctypes, os, sys
uid_map, gid_map, uid, gid, path = sys.argv[1:6]
libc = ctypes.CDLL(None, use_errno=True)
r1, w1 = os.pipe(); r2, w2 = os.pipe()
pid = os.fork()
if pid == 0:
    if libc.unshare(0x10000000) != 0:
        os._exit(90)
    os.write(w1, b"u"); os.read(r2, 1)
    os.setgroups([]); os.setresgid(int(gid), int(gid), int(gid)); os.setresuid(int(uid), int(uid), int(uid))
    os.write(w1, b"r"); os.read(r2, 1)
    try:
        os.execve(path, [path, "/proc/self/status"], {"LD_SHOW_AUXV": "1"})
    except OSError as e:
        print("errno", e.errno, flush=True)
    os._exit(0)
os.read(r1, 1)
open(f"/proc/{pid}/uid_map", "w").write(uid_map.replace(",", "\n") + "\n")
open(f"/proc/{pid}/gid_map", "w").write(gid_map.replace(",", "\n") + "\n")
os.write(w2, b"m"); os.read(r1, 1)
print("ready", pid, flush=True)
sys.stdin.readline()
os.write(w2, b"g")
_, st = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(st))
"#;

/// A caller in a user namespace.
#[derive(Clone, Debug)]
struct NsCaller {
    /// Lines of "inside outside count", joined by commas.
    uid_map: String,
    gid_map: String,
    /// The ids it takes inside.
    uid: u32,
    gid: u32,
}

/// The real exec, and verify's prediction for the waiting process (and its JSON).
fn both(c: &NsCaller, file: &Path) -> (Observed, Observed, serde_json::Value) {
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", NS_EXEC, &c.uid_map, &c.gid_map])
        .arg(c.uid.to_string())
        .arg(c.gid.to_string())
        .arg(file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let Some(pid) = line.trim().strip_prefix("ready ") else {
        let o = child.wait_with_output().unwrap();
        panic!(
            "the namespace helper failed: {line}{}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let r = fcap_run(["verify", "--json", "--pid", pid, file.to_str().unwrap()]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut out, &mut rest).unwrap();
    let st = child.wait().unwrap();
    assert!(st.success(), "the namespace helper: {st}");
    let text = String::from_utf8_lossy(&rest);
    let real = match text.trim().strip_prefix("errno ") {
        Some(e) => Observed {
            exec: match e.parse::<i32>().unwrap() {
                libc::EACCES => "eacces".into(),
                libc::EPERM => "eperm".into(),
                e => panic!("unexpected errno {e}"),
            },
            permitted: 0,
            effective: 0,
            ambient: 0,
            secure: None,
        },
        None => parse_output(&rest),
    };
    assert!(r.code() <= 1, "{}: {}", r.cmd, r.stderr());
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    let ok = v["exec"] == "ok";
    let set = |k: &str| if ok { names_to_bits(&v[k]) } else { 0 };
    let got = Observed {
        exec: v["exec"].as_str().unwrap().to_string(),
        permitted: set("permitted"),
        effective: set("effective"),
        ambient: set("ambient"),
        secure: ok.then(|| v["secure_exec"].as_bool().unwrap()),
    };
    (real, got, v)
}

/// A copy of `cat` with this owner, mode and raw value.
fn file(
    dir: &Path,
    name: &str,
    owner: (u32, u32),
    mode: u32,
    value: Option<&[u8]>,
) -> std::path::PathBuf {
    let p = dir.join(name);
    cp(Path::new("/bin/cat"), &p);
    std::os::unix::fs::chown(&p, Some(owner.0), Some(owner.1)).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    if let Some(v) = value {
        set_raw_xattr(&p, v).unwrap();
    }
    p
}

/// A v3 value: v2's sets with this rootid.
fn v3(permitted: u64, effective: bool, rootid: u32) -> Vec<u8> {
    let mut v = v2(permitted, 0, effective);
    v[3] = 3;
    v.extend(rootid.to_le_bytes());
    v
}

const RAW: u64 = 1 << 13;
const ALL: u64 = (1 << 41) - 1;

#[test]
fn a_caller_in_a_user_namespace_matches_the_kernel() {
    require_root();
    let d = tempdir();
    // Unprivileged `unshare --user --map-root-user` by nobody: uid 0 inside is
    // nobody here, and the real root has no uid inside.
    let nobody_root = NsCaller {
        uid_map: "0 65534 1".into(),
        gid_map: "0 65534 1".into(),
        uid: 0,
        gid: 0,
    };
    // A container-like range, and a non-root user in it.
    let ranged = NsCaller {
        uid_map: "0 100000 65536".into(),
        gid_map: "0 100000 65536".into(),
        uid: 1000,
        gid: 1000,
    };
    // The brief's form: only the value's rootid, as root inside.
    let rootid_only = NsCaller {
        uid_map: "0 100000 1".into(),
        gid_map: "0 100000 1".into(),
        uid: 0,
        gid: 0,
    };
    let suid_root = file(d.path(), "suid-root", (0, 0), 0o4755, None);
    let own = file(d.path(), "private-4242", (4242, 4242), 0o700, None);
    let mine = file(d.path(), "private-nobody", (65534, 65534), 0o700, None);
    let ns_rootid = file(
        d.path(),
        "v3-100000",
        (0, 0),
        0o755,
        Some(&v3(RAW, true, 100000)),
    );
    let other_rootid = file(
        d.path(),
        "v3-200000",
        (0, 0),
        0o755,
        Some(&v3(RAW, true, 200000)),
    );
    let suid_inside = file(d.path(), "suid-101234", (101234, 100000), 0o4755, None);
    let cases: [(&NsCaller, &Path, &str, u64, &str); 9] = [
        // Set-ID bits of an unmapped owner are ignored; the caller is root inside.
        (&nobody_root, &suid_root, "ok", ALL, "setid-unmapped"),
        // CAP_DAC_OVERRIDE does not reach a file whose owner is unmapped...
        (&nobody_root, &own, "eacces", 0, "no-exec-permission"),
        // ...while the caller owns this one.
        (&nobody_root, &mine, "ok", ALL, "root"),
        // A namespaced value for this namespace's root applies, another does not.
        (&ranged, &ns_rootid, "ok", RAW, "namespace-rootid"),
        (&ranged, &other_rootid, "ok", 0, "foreign-rootid"),
        (&ranged, &suid_root, "ok", 0, "setid-unmapped"),
        (&ranged, &suid_inside, "ok", 0, "setuid"),
        (&rootid_only, &ns_rootid, "ok", ALL, "root"),
        (&rootid_only, &suid_root, "ok", ALL, "setid-unmapped"),
    ];
    for (c, f, exec, effective, code) in cases {
        let (real, got, v) = both(c, f);
        let what = format!("{c:?} exec {}", f.display());
        assert_eq!(real.exec, exec, "the kernel, {what}");
        assert_eq!(real.effective, effective, "the kernel, {what}: {real:?}");
        assert_eq!(
            got, real,
            "fcap (left) and the kernel (right), {what}\n{v:#}"
        );
        assert!(
            codes(&v).iter().any(|c| c == code),
            "{what}: no {code} in {v:#}"
        );
        assert!(v["caller"]["user_namespace"].is_object(), "{v:#}");
    }
}

#[test]
fn random_user_namespace_callers_match_the_kernel() {
    require_root();
    let (seed, cases, mut rng) = random_run("FCAP_VERIFY", "user namespace differential test", 60);
    let d = tempdir();
    // Maps (uid and gid alike) with the ids a caller may take inside.
    let maps: [(&str, &[u32]); 5] = [
        ("0 65534 1", &[0]),
        ("0 100000 65536", &[0, 1000]),
        ("0 100000 1", &[0]),
        ("0 4242 1,1 100000 10", &[0, 1, 5]),
        ("1000 100000 10", &[1000, 1003]),
    ];
    let owners: [u32; 6] = [0, 65534, 100000, 101000, 4242, 100005];
    let modes: [u32; 6] = [0o755, 0o4755, 0o2755, 0o6755, 0o700, 0o750];
    let rootids: [u32; 5] = [100000, 65534, 4242, 200000, 100005];
    let pool: [u32; 4] = [0, 10, 13, 21];
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for k in 0..cases {
        let (map, ids) = rng.pick(&maps);
        let uid = *rng.pick(ids);
        let gid = *rng.pick(ids);
        let c = NsCaller {
            uid_map: map.to_string(),
            gid_map: map.to_string(),
            uid,
            gid,
        };
        let owner = (*rng.pick(&owners), *rng.pick(&owners));
        let mode = *rng.pick(&modes);
        let value = match rng.next() % 4 {
            0 => None,
            1 => Some(v2(rng.subset(&pool, 50), 0, rng.chance(60))),
            _ => Some(v3(
                rng.subset(&pool, 50),
                rng.chance(60),
                *rng.pick(&rootids),
            )),
        };
        let f = file(d.path(), &format!("f{k}"), owner, mode, value.as_deref());
        let (real, got, v) = both(&c, &f);
        assert_eq!(
            got, real,
            "fcap (left) and the kernel (right): {c:?}, owner {owner:?}, mode {mode:o}, value {value:?}, case {k}, FCAP_VERIFY_SEED={seed}\n{v:#}"
        );
        let key = format!(
            "{} {}",
            real.exec,
            if real.effective != 0 { "caps" } else { "none" }
        );
        *seen.entry(key).or_default() += 1;
    }
    eprintln!("{cases} cases, outcomes: {seen:?}");
    if cases >= 40 {
        assert!(seen.keys().any(|k| k == "ok caps"), "{seen:?}");
        assert!(seen.keys().any(|k| k.starts_with("eacces")), "{seen:?}");
    }
}
