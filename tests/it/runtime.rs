//! `verify --oci-config` against a real runc: bundles whose rootfs holds a copy of
//! cat(1) and its libraries, run with generated process sections against generated
//! file capabilities; the entrypoint prints its own `/proc/self/status`.
//!
//! The random differential test is seeded: `FCAP_RUNC_SEED` replays a run,
//! `FCAP_RUNC_CASES` sets the number of cases (default 300, the CI count).

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A bundle: `dir/config.json` and `dir/rootfs` with `/cat` and the libraries it
/// loads, so the entrypoint needs nothing from the host at run time.
pub struct Bundle {
    pub dir: tempfile::TempDir,
    base: serde_json::Value,
}

impl Bundle {
    pub fn new() -> Bundle {
        require_root();
        require_tool("runc");
        let dir = tempdir();
        let rootfs = dir.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("proc")).unwrap();
        let out = Command::new("ldd").arg("/bin/cat").output().unwrap();
        let mut files = vec![PathBuf::from("/bin/cat")];
        for w in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if w.starts_with('/') {
                files.push(PathBuf::from(w));
            }
        }
        for f in &files {
            let dest = if f == Path::new("/bin/cat") {
                rootfs.join("cat")
            } else {
                rootfs.join(f.strip_prefix("/").unwrap())
            };
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            cp(f, &dest);
        }
        let st = Command::new("runc")
            .arg("spec")
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(st.success(), "runc spec failed");
        let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
        let mut base: serde_json::Value = serde_json::from_str(&text).unwrap();
        base["process"]["terminal"] = false.into();
        base["process"]["args"] = serde_json::json!(["/cat", "/proc/self/status"]);
        Bundle { dir, base }
    }

    pub fn entrypoint(&self) -> PathBuf {
        self.dir.path().join("rootfs/cat")
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }

    /// Write config.json with this process section merged over `runc spec`'s.
    pub fn write(&self, process: &serde_json::Value) {
        let mut c = self.base.clone();
        for (k, v) in process.as_object().unwrap() {
            c["process"][k] = v.clone();
        }
        std::fs::write(self.config(), serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    }

    /// `runc run`: the entrypoint's status lines, or runc's error text.
    pub fn run(&self) -> Result<Observed, String> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let id = format!(
            "fcap-it-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let out = Command::new("runc")
            .args(["run", "--bundle"])
            .arg(self.dir.path())
            .arg(&id)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            let _ = Command::new("runc").args(["delete", "-f", &id]).output();
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(Observed::parse(&stdout))
    }
}

/// What the entrypoint saw of itself.
#[derive(Debug, PartialEq, Eq)]
pub struct Observed {
    pub inh: u64,
    pub prm: u64,
    pub eff: u64,
    pub amb: u64,
    pub nnp: bool,
}

impl Observed {
    pub fn parse(status: &str) -> Observed {
        let field = |k: &str| -> &str {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k).map(str::trim))
                .unwrap_or_else(|| panic!("no {k} in {status}"))
        };
        let hex = |k: &str| u64::from_str_radix(field(k), 16).unwrap();
        Observed {
            inh: hex("CapInh:"),
            prm: hex("CapPrm:"),
            eff: hex("CapEff:"),
            amb: hex("CapAmb:"),
            nnp: field("NoNewPrivs:") == "1",
        }
    }

    /// The same sets from `verify --json`.
    pub fn predicted(v: &serde_json::Value) -> Observed {
        let bits = |k: &str| {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|n| fcap::caps::lookup(n.as_str().unwrap()).unwrap())
                .fold(0u64, |a, c| a | 1 << c)
        };
        Observed {
            inh: bits("inheritable"),
            prm: bits("permitted"),
            eff: bits("effective"),
            amb: bits("ambient"),
            nnp: v["caller"]["no_new_privs"].as_bool().unwrap(),
        }
    }
}

fn names(bits: u64) -> Vec<String> {
    (0..64)
        .filter(|i| bits & 1 << i != 0)
        .map(|i| fcap::caps::name(i).to_ascii_uppercase())
        .collect()
}

/// `verify --json --oci-config` for the bundle.
fn verify_json(b: &Bundle) -> serde_json::Value {
    let r = fcap_run([
        os("verify"),
        os("--json"),
        os("--oci-config"),
        b.config().as_os_str(),
    ]);
    assert!(matches!(r.code(), 0 | 1), "{}\n{}", r.cmd, r.stderr());
    serde_json::from_str(&r.stdout()).unwrap()
}

/// Compare runc and fcap on the bundle as it is; `what` says what was generated.
#[track_caller]
fn compare(b: &Bundle, what: &str) {
    let v = verify_json(b);
    match b.run() {
        Ok(seen) => {
            assert_eq!(
                v["exec"], "ok",
                "runc ran the entrypoint, fcap says {v}\n{what}"
            );
            assert_eq!(
                Observed::predicted(&v),
                seen,
                "fcap (left) and runc (right)\n{what}"
            );
        }
        Err(err) => {
            assert!(
                err.contains("operation not permitted"),
                "runc: {err}\n{what}"
            );
            assert_eq!(v["exec"], "eperm", "runc: {err}, fcap: {v}\n{what}");
            let refused = v["reasons"][0]["code"] == "runtime-capset";
            assert_eq!(
                err.contains("unable to apply caps"),
                refused,
                "runc: {err}\nfcap: {v}\n{what}"
            );
        }
    }
}

#[test]
fn runc_spec_default_with_a_capped_entrypoint_matches_runc() {
    // The case shared spec runtimes.md §1 observed: uid 1000, ambient/permitted =
    // {audit_write, kill, net_bind_service}, NNP, entrypoint cap_net_bind_service=ep.
    let b = Bundle::new();
    let three = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    b.write(&serde_json::json!({
        "user": {"uid": 1000, "gid": 1000},
        "capabilities": {"bounding": three, "effective": three, "permitted": three,
                         "inheritable": three, "ambient": three},
        "noNewPrivileges": true,
    }));
    compare(&b, "no file caps");
    let v = verify_json(&b);
    let kept = serde_json::json!(["cap_kill", "cap_net_bind_service", "cap_audit_write"]);
    assert_eq!((&v["ambient"], &v["permitted"]), (&kept, &kept));
    setcap_on(&b.entrypoint(), &["cap_net_bind_service=ep"]);
    compare(&b, "cap_net_bind_service=ep");
    let v = verify_json(&b);
    assert_eq!(v["permitted"], serde_json::json!(["cap_net_bind_service"]));
    assert_eq!(v["ambient"], serde_json::json!([]));
}

#[test]
fn random_process_sections_and_files_match_runc() {
    let b = Bundle::new();
    let (seed, cases, mut rng) = random_run("FCAP_RUNC", "runc differential test", 300);
    // Few capabilities, so the sets overlap often; cap_sys_resource (24) is outside
    // this machine's bounding set, so runc itself lacks it.
    let pool = [0u32, 5, 10, 13, 21];
    let outside = 24u32;
    let (mut ran, mut refused, mut failed) = (0, 0, 0);
    for case in 0..cases {
        let set = |rng: &mut SplitMix, percent| {
            let mut s = rng.subset(&pool, percent);
            if rng.chance(5) {
                s |= 1 << outside;
            }
            s
        };
        let bounding = set(&mut rng, 60);
        let mut permitted = set(&mut rng, 50);
        let mut effective = permitted & set(&mut rng, 70);
        if rng.chance(4) {
            effective |= set(&mut rng, 30);
        }
        let mut inheritable = bounding & set(&mut rng, 50);
        if rng.chance(4) {
            inheritable |= set(&mut rng, 30);
        }
        let ambient = set(&mut rng, 50);
        if rng.chance(10) {
            permitted |= ambient;
        }
        let uid = *rng.pick(&[0u32, 1000, 65534]);
        let gid = *rng.pick(&[0u32, 1000]);
        let nnp = rng.chance(40);
        let mut process = serde_json::json!({
            "user": {"uid": uid, "gid": gid},
            "capabilities": {
                "bounding": names(bounding), "effective": names(effective),
                "permitted": names(permitted), "inheritable": names(inheritable),
                "ambient": names(ambient),
            },
            "noNewPrivileges": nnp,
        });
        if rng.chance(20) {
            process["user"]["additionalGids"] = serde_json::json!([4, 27]);
        }
        // The entrypoint's own capabilities and mode.
        let file = b.entrypoint();
        setcap_clear(&file);
        let fp = rng.subset(&[0, 5, 10, 13, 21, 24], 35);
        let fi = rng.subset(&[0, 5, 10, 13, 21, 24], 25);
        let fe = rng.chance(50);
        let mut text = Vec::new();
        if fp != 0 {
            let n: Vec<String> = (0..64)
                .filter(|i| fp & 1 << i != 0)
                .map(fcap::caps::name)
                .collect();
            text.push(format!("{}=p", n.join(",")));
        }
        if fi != 0 {
            let n: Vec<String> = (0..64)
                .filter(|i| fi & 1 << i != 0)
                .map(fcap::caps::name)
                .collect();
            text.push(format!("{}+i", n.join(",")));
        }
        if fe && fp | fi != 0 {
            // The file has one effective flag: it covers the union (libcap insists).
            let u = fp | fi;
            let n: Vec<String> = (0..64)
                .filter(|i| u & 1 << i != 0)
                .map(fcap::caps::name)
                .collect();
            text.push(format!("{}+e", n.join(",")));
        }
        if !text.is_empty() && rng.chance(70) {
            setcap_on(&file, &[&text.join(" ")]);
        } else {
            text.clear();
        }
        let mode = if rng.chance(10) { 0o4755 } else { 0o755 };
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .unwrap();
        b.write(&process);
        let what = format!(
            "case {case}, FCAP_RUNC_SEED={seed}\nprocess: {process}\nfile caps: {:?} mode {mode:o}",
            text.join(" ")
        );
        compare(&b, &what);
        match verify_json(&b)["exec"].as_str() {
            Some("ok") => ran += 1,
            _ if verify_json(&b)["reasons"][0]["code"] == "runtime-capset" => refused += 1,
            _ => failed += 1,
        }
    }
    eprintln!(
        "runc differential test: {ran} ran, {refused} refused by runc, {failed} exec failures"
    );
    // The generator must reach every outcome, or the comparison proves little.
    if cases >= 100 {
        assert!(
            ran > 0 && refused > 0 && failed > 0,
            "{ran} {refused} {failed}"
        );
    }
}

#[test]
fn explain_caller_names_the_config_fields_and_bad_configs_are_one_line_errors() {
    let b = Bundle::new();
    b.write(&serde_json::json!({
        "user": {"uid": 1000, "gid": 1000},
        "capabilities": {"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                         "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL", "cap_chown"]},
    }));
    let r = fcap_run([
        os("verify"),
        os("--color"),
        os("never"),
        os("--explain-caller"),
        os("--oci-config"),
        b.config().as_os_str(),
    ]);
    r.ok();
    let out = r.stdout();
    assert!(
        out.contains("ambient cap_kill") && out.contains("<- process.capabilities.ambient"),
        "{out}"
    );
    assert!(
        out.contains("effective none") && out.contains("(not set: empty/default)"),
        "{out}"
    );
    assert!(out.contains("caller:      uid 1000 gid 1000"), "{out}");
    r.stderr_has("capability 'cap_chown' is ignored");

    // A wrong type: one line naming the file and the field, exit 2.
    b.write(&serde_json::json!({"user": {"uid": "node"}}));
    let r = fcap_run([os("verify"), os("--oci-config"), b.config().as_os_str()]);
    r.status(2);
    assert_eq!(
        r.stderr(),
        format!(
            "fcap: '{}': process.user.uid: expected a number from 0 to 4294967295, found a string\n",
            b.config().display()
        )
    );
    // An entrypoint that is not in the rootfs.
    b.write(&serde_json::json!({"args": ["app"], "env": ["PATH=/bin"]}));
    let r = fcap_run([os("verify"), os("--oci-config"), b.config().as_os_str()]);
    r.status(2);
    r.stderr_has("process.args[0] 'app' is not found in the container's PATH (/bin)");
    // runc refuses a section whose permitted set exceeds its own: so does verify.
    b.write(&serde_json::json!({"capabilities": {"permitted": ["CAP_SYS_RESOURCE"]}}));
    let r = fcap_run([
        os("verify"),
        os("--color"),
        os("never"),
        os("--oci-config"),
        b.config().as_os_str(),
    ]);
    r.status(1);
    assert!(
        r.stdout().contains("capset fails with EPERM"),
        "{}",
        r.stdout()
    );
    assert!(b.run().unwrap_err().contains("unable to apply caps"));
}

/// `verify --json` with a descriptor flag, on the bundle's entrypoint.
fn descriptor_json(b: &Bundle, flags: &[&str]) -> serde_json::Value {
    let mut args: Vec<std::ffi::OsString> = vec!["verify".into(), "--json".into()];
    args.extend(flags.iter().map(|f| f.into()));
    args.push(b.entrypoint().into());
    let r = fcap_run(args);
    assert!(matches!(r.code(), 0 | 1), "{}\n{}", r.cmd, r.stderr());
    serde_json::from_str(&r.stdout()).unwrap()
}

/// Run the process section a descriptor derived under runc, and compare what the
/// entrypoint got with what verify predicted from the descriptor.
#[track_caller]
fn descriptor_matches_runc(b: &Bundle, flags: &[&str], what: &str) -> serde_json::Value {
    let v = descriptor_json(b, flags);
    let mut process = v["caller"]["descriptor"]["process"].clone();
    process["args"] = serde_json::json!(["/cat", "/proc/self/status"]);
    b.write(&process);
    let seen = match b.run() {
        Ok(seen) => seen,
        Err(e) => {
            // The entrypoint's exec failed under runc: verify must say the same.
            assert!(e.contains("operation not permitted"), "runc: {e}\n{what}");
            assert_eq!(v["exec"], "eperm", "runc: {e}\n{what}: {v}");
            return v;
        }
    };
    assert_eq!(v["exec"], "ok", "{what}: {v}");
    assert_eq!(
        Observed::predicted(&v),
        seen,
        "fcap (left) and runc (right): {what}"
    );
    v
}

fn example(name: &str) -> String {
    format!("{}/doc/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn kubernetes_restricted_pod_under_runc_per_runtime() {
    let b = Bundle::new();
    let file = example("k8s-restricted-web.yaml");
    setcap_on(&b.entrypoint(), &["cap_net_bind_service=ep"]);
    for (rt, got) in [("containerd", true), ("cri-o", true), ("docker", false)] {
        let flags = ["--k8s", &file, "--container", "web", "--runtime", rt];
        let v = descriptor_matches_runc(&b, &flags, rt);
        assert_eq!(
            v["effective"]
                .as_array()
                .unwrap()
                .contains(&"cap_net_bind_service".into()),
            got,
            "{rt}: {v}"
        );
        assert_eq!(v["caller"]["no_new_privs"], true);
    }
    // Without a file capability the non-root entrypoint gets nothing anywhere.
    setcap_clear(&b.entrypoint());
    for rt in ["containerd", "docker"] {
        let flags = ["--k8s", &file, "--container", "metrics", "--runtime", rt];
        let v = descriptor_matches_runc(&b, &flags, rt);
        assert_eq!(v["permitted"], serde_json::json!([]));
    }
}

#[test]
fn k8s_restricted_profile_matches_runc_per_runtime_with_and_without_the_added_cap() {
    let b = Bundle::new();
    let nbs = ["CAP_NET_BIND_SERVICE"];
    let none: [&str; 0] = [];
    let entry = b.entrypoint();
    for caps in [true, false] {
        if caps {
            setcap_on(&b.entrypoint(), &["cap_net_bind_service=ep"]);
        } else {
            setcap_clear(&b.entrypoint());
        }
        // (runtime flag, extra flags, the section that runtime writes)
        let cases = [
            (
                "containerd",
                None,
                serde_json::json!({"bounding": nbs, "effective": nbs, "permitted": nbs}),
            ),
            (
                "cri-o",
                None,
                serde_json::json!({"bounding": nbs, "effective": nbs, "permitted": nbs}),
            ),
            (
                "docker",
                None,
                serde_json::json!({"bounding": nbs, "effective": none, "permitted": none}),
            ),
            (
                "containerd",
                Some("net_bind_service"),
                serde_json::json!({"bounding": none}),
            ),
        ];
        for (rt, drop, capsec) in cases {
            b.write(&serde_json::json!({
                "user": {"uid": 65534, "gid": 65534},
                "capabilities": capsec,
                "noNewPrivileges": true,
            }));
            let seen = b.run();
            let mut args = vec![
                os("verify"),
                os("--json"),
                os("--profile"),
                os("k8s-restricted"),
                os("--user"),
                os("65534"),
                os("--runtime"),
                os(rt),
            ];
            if let Some(d) = drop {
                args.extend([os("--drop"), os(d)]);
            }
            args.push(entry.as_os_str());
            let r = fcap_run(args);
            let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
            let what = format!("{rt} drop {drop:?} file caps {caps}");
            let seen = match seen {
                Ok(seen) => seen,
                Err(e) => {
                    // Without the added cap, a file whose effective bit names a cap
                    // outside the bounding set fails the exec (capability-dumb check).
                    assert!(
                        e.contains("exec /cat: operation not permitted"),
                        "{what}: {e}"
                    );
                    assert_eq!(v["exec"], "eperm", "{what}");
                    assert!(caps && drop.is_some(), "{what}");
                    continue;
                }
            };
            assert_eq!(Observed::predicted(&v), seen, "{what}");
            // The fix: on containerd and CRI-O a capped entrypoint binds low ports.
            assert_eq!(
                seen.eff == 1 << 10,
                caps && drop.is_none() && rt != "docker",
                "{what}"
            );
        }
    }
}

#[test]
fn compose_and_docker_run_flags_under_runc_for_docker_and_podman() {
    let b = Bundle::new();
    let file = example("compose.yaml");
    for caps in [true, false] {
        if caps {
            setcap_on(&b.entrypoint(), &["cap_net_bind_service=ep"]);
        } else {
            setcap_clear(&b.entrypoint());
        }
        for (rt, got) in [("docker", false), ("podman", true)] {
            let flags = ["--compose", &file, "--service", "web", "--runtime", rt];
            let v = descriptor_matches_runc(&b, &flags, &format!("{rt} caps {caps}"));
            let eff = v["effective"].as_array().unwrap();
            assert_eq!(
                eff.contains(&"cap_net_bind_service".into()),
                got,
                "{rt}: {v}"
            );
            assert_eq!(v["caller"]["no_new_privs"], true);
            // Podman's ambient capability reaches a plain entrypoint; a capped one
            // clears it and gets it from the file instead.
            let amb = v["ambient"].as_array().unwrap();
            assert_eq!(!amb.is_empty(), rt == "podman" && !caps, "{rt}: {v}");
        }
        for line in [
            "docker run --rm -u 1000:1000 --cap-drop ALL --cap-add NET_BIND_SERVICE img",
            "--user=0 --cap-drop=chown --security-opt=no-new-privileges=true img",
            "--privileged -u 65534:65534 img",
            // Root and privileged: every capability runc itself holds.
            "--privileged img",
        ] {
            descriptor_matches_runc(&b, &["--docker-args", line], line);
        }
    }
}

/// The caller systemd builds for a unit, built for real: setpriv keeps the
/// permitted set across the uid switch as systemd does with SECBIT_KEEP_CAPS (when
/// the unit has AmbientCapabilities= or SecureBits=, or runs as root); otherwise a
/// non-root service starts with an empty permitted set, which a shell exec'd by
/// capsh after the uid switch has too.
struct UnitCase {
    user: Option<u32>,
    ambient: u64,
    bounding: u64,
    nnp: bool,
    implied_nnp: bool,
    noroot: bool,
}

impl UnitCase {
    /// The README's unit: nobody with AmbientCapabilities=CAP_NET_BIND_SERVICE,
    /// CapabilityBoundingSet= the same, NoNewPrivileges=yes.
    const README: UnitCase = UnitCase {
        user: Some(65534),
        ambient: 1 << 10,
        bounding: 1 << 10,
        nnp: true,
        implied_nnp: false,
        noroot: false,
    };

    fn text(&self, prog: &Path) -> String {
        let caps = |bits: u64| names(bits).join(" ");
        let mut t = String::from("[Unit]\nDescription=test\n\n[Service]\n");
        if let Some(u) = self.user {
            t += &format!("User={u}\n");
        }
        if self.ambient != 0 {
            t += &format!("AmbientCapabilities={}\n", caps(self.ambient));
        }
        t += &format!("CapabilityBoundingSet={}\n", caps(self.bounding));
        if self.nnp {
            t += "NoNewPrivileges=yes\n";
        }
        if self.implied_nnp {
            t += "SystemCallFilter=@system-service\n";
        }
        if self.noroot {
            t += "SecureBits=noroot\n";
        }
        t += &format!("ExecStart={} /proc/self/status\n", prog.display());
        t
    }

    fn real(&self, prog: &Path) -> Result<Observed, String> {
        let list = |bits: u64| -> String {
            (0..64)
                .filter(|i| bits & 1 << i != 0)
                .map(|i| format!(",+{}", &fcap::caps::name(i)[4..]))
                .collect()
        };
        let nnp = self.nnp || (self.implied_nnp && self.user.is_some_and(|u| u != 0));
        let keep = self.user.is_none_or(|u| u == 0) || self.ambient != 0 || self.noroot;
        let mut c;
        if keep {
            c = Command::new("setpriv");
            if let Some(u) = self.user {
                c.args([
                    "--reuid",
                    &u.to_string(),
                    "--regid",
                    &u.to_string(),
                    "--init-groups",
                ]);
            }
            c.arg(format!("--inh-caps=-all{}", list(self.ambient)));
            if self.ambient != 0 {
                c.arg(format!("--ambient-caps={}", &list(self.ambient)[1..]));
            }
            c.arg(format!("--bounding-set=-all{}", list(self.bounding)));
            if self.noroot {
                c.arg("--securebits=+noroot");
            }
            if nnp {
                c.arg("--no-new-privs");
            }
            c.arg(prog).arg("/proc/self/status");
        } else {
            let u = self.user.unwrap();
            let drop: Vec<String> = (0..41)
                .filter(|i| self.bounding & 1 << i == 0)
                .map(fcap::caps::name)
                .collect();
            c = Command::new("capsh");
            c.arg(format!("--drop={}", drop.join(",")))
                .arg(format!("--gid={u}"))
                .arg(format!("--uid={u}"));
            if nnp {
                c.arg("--no-new-privs");
            }
            c.args(["--", "-c", "exec \"$0\" /proc/self/status"])
                .arg(prog);
        }
        let out = c.output().unwrap();
        if !out.status.success() {
            return Err(format!("{c:?}: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(Observed::parse(&String::from_utf8_lossy(&out.stdout)))
    }
}

#[test]
fn systemd_units_match_the_caller_built_for_real() {
    require_root();
    require_tool("setpriv");
    require_tool("capsh");
    let d = tempdir();
    let prog = d.path().join("cat");
    cp(Path::new("/bin/cat"), &prog);
    let unit = d.path().join("t.service");
    let seed = std::env::var("FCAP_RUNC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let mut rng = SplitMix(seed);
    let pool = [0u32, 5, 10, 13, 21];
    let mut fixed = vec![
        // The README's recipe, with no file capability, then with one.
        UnitCase::README,
        // No ambient: the uid switch empties the permitted set, and the implied
        // no_new_privs then blocks file capabilities.
        UnitCase {
            user: Some(65534),
            ambient: 0,
            bounding: 1 << 10 | 1 << 13,
            nnp: false,
            implied_nnp: true,
            noroot: false,
        },
        // Root under SecureBits=noroot.
        UnitCase {
            user: None,
            ambient: 0,
            bounding: 1 << 13,
            nnp: false,
            implied_nnp: false,
            noroot: true,
        },
    ];
    for _ in 0..40 {
        let bounding = rng.subset(&pool, 60);
        fixed.push(UnitCase {
            user: *rng.pick(&[None, Some(0), Some(65534), Some(65534)]),
            ambient: bounding & rng.subset(&pool, 50),
            bounding,
            nnp: rng.chance(40),
            implied_nnp: rng.chance(30),
            noroot: rng.chance(15),
        });
    }
    for (i, case) in fixed.iter().enumerate() {
        for file_caps in [
            None,
            Some("cap_net_raw,cap_net_bind_service=ep"),
            Some("cap_kill+ip"),
        ] {
            setcap_clear(&prog);
            if let Some(t) = file_caps {
                setcap_on(&prog, &[t]);
            }
            std::fs::write(&unit, case.text(&prog)).unwrap();
            let what = format!(
                "case {i} (FCAP_RUNC_SEED={seed}), file caps {file_caps:?}\n{}",
                case.text(&prog)
            );
            let r = fcap_run([os("verify"), os("--json"), os("--unit"), unit.as_os_str()]);
            assert!(matches!(r.code(), 0 | 1), "{what}\n{}", r.stderr());
            let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
            match case.real(&prog) {
                Ok(seen) => {
                    assert_eq!(v["exec"], "ok", "{what}: {v}");
                    assert_eq!(
                        Observed::predicted(&v),
                        seen,
                        "fcap (left) and the real caller (right): {what}"
                    );
                }
                Err(e) => {
                    // The kernel refused the exec (capability-dumb EPERM).
                    assert!(e.contains("Operation not permitted"), "{what}: {e}");
                    assert_eq!(v["exec"], "eperm", "{what}: {v}\n{e}");
                }
            }
        }
    }
}

/// `verify --json --require` with a descriptor: its fixes, then each applied to the
/// descriptor by `apply` and verified again, which must pass.
fn fixes_pass(
    flags: &dyn Fn() -> Vec<std::ffi::OsString>,
    apply: &dyn Fn(&[String], bool),
    reset: &dyn Fn(),
    want: &[&str],
) {
    let run = || {
        let mut a: Vec<std::ffi::OsString> = vec![
            "verify".into(),
            "--json".into(),
            "--require".into(),
            "net_bind_service".into(),
        ];
        a.extend(flags());
        fcap_run(a)
    };
    reset();
    let r = run();
    r.status(1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    let fixes = v["fixes"].as_array().unwrap().clone();
    let texts: Vec<&str> = fixes
        .iter()
        .map(|f| f["change"].as_str().unwrap())
        .collect();
    assert_eq!(texts, want, "{v}");
    for f in &fixes {
        let add: Vec<String> = f["add"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        reset();
        apply(&add, f["allow_new_privileges"].as_bool().unwrap());
        let again = run();
        assert_eq!(again.code(), 0, "after {f}: {}", again.stdout());
    }
}

#[test]
fn require_fixes_are_applied_to_each_descriptor_and_pass() {
    require_root();
    let d = tempdir();
    let prog = d.path().join("web");
    cp(Path::new("/bin/true"), &prog);
    setcap_on(&prog, &["cap_net_bind_service=ep"]);
    let p = prog.clone();

    // Kubernetes: a restricted-style pod without the added capability, on Docker.
    let pod = d.path().join("pod.yaml");
    let write_pod = |add: &[String], ape: bool| {
        let add: Vec<String> = add
            .iter()
            .map(|c| format!("\"{}\"", c[4..].to_uppercase()))
            .collect();
        std::fs::write(&pod, format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n  - name: web\n    securityContext:\n      runAsUser: 1000\n      allowPrivilegeEscalation: {ape}\n      capabilities:\n        drop: [\"ALL\"]\n        add: [{}]\n",
            add.join(", ")
        )).unwrap();
    };
    for (rt, want) in [
        (
            "containerd",
            &["add NET_BIND_SERVICE to spec.containers[0].securityContext.capabilities.add"][..],
        ),
        (
            "docker",
            &[
                "add NET_BIND_SERVICE to spec.containers[0].securityContext.capabilities.add and set spec.containers[0].securityContext.allowPrivilegeEscalation: true",
            ][..],
        ),
    ] {
        let flags = || {
            vec![
                "--k8s".into(),
                pod.clone().into(),
                "--runtime".into(),
                rt.into(),
                p.clone().into(),
            ]
        };
        fixes_pass(
            &flags,
            &|add, allow| write_pod(add, allow),
            &|| write_pod(&[], false),
            want,
        );
    }

    // Compose, on Docker: the example service blocks its own file capability.
    let compose = d.path().join("compose.yaml");
    let original = std::fs::read_to_string(example("compose.yaml")).unwrap();
    let flags = || {
        vec![
            "--compose".into(),
            compose.clone().into(),
            "--service".into(),
            "web".into(),
            p.clone().into(),
        ]
    };
    fixes_pass(
        &flags,
        &|_, allow| {
            assert!(allow);
            std::fs::write(
                &compose,
                original.replace("      - no-new-privileges:true\n", ""),
            )
            .unwrap();
        },
        &|| std::fs::write(&compose, &original).unwrap(),
        &["remove no-new-privileges from services.web.security_opt"],
    );

    // docker run flags: the fix names flags; apply them to the line.
    let line = std::cell::RefCell::new(String::new());
    let base = "--user 1000:1000 --cap-drop ALL --security-opt no-new-privileges img";
    let flags = || {
        vec![
            "--docker-args".into(),
            line.borrow().clone().into(),
            p.clone().into(),
        ]
    };
    fixes_pass(
        &flags,
        &|add, allow| {
            let mut l = base.to_string();
            for c in add {
                l = format!("--cap-add {} {l}", &c[4..]);
            }
            if allow {
                l = l.replace("--security-opt no-new-privileges ", "");
            }
            *line.borrow_mut() = l;
        },
        &|| *line.borrow_mut() = base.to_string(),
        &["add --cap-add NET_BIND_SERVICE and remove --security-opt no-new-privileges"],
    );

    // systemd: a plain file and a unit without the ambient capability.
    let plain = d.path().join("plain");
    cp(Path::new("/bin/true"), &plain);
    let unit = d.path().join("w.service");
    let dropins = d.path().join("w.service.d");
    std::fs::write(&unit, format!("[Service]\nUser=nobody\nCapabilityBoundingSet=CAP_KILL\nNoNewPrivileges=yes\nExecStart={}\n", plain.display())).unwrap();
    let flags = || vec!["--unit".into(), unit.clone().into()];
    fixes_pass(
        &flags,
        &|add, allow| {
            std::fs::create_dir_all(&dropins).unwrap();
            let names: Vec<String> = add.iter().map(|c| c.to_uppercase()).collect();
            let mut t = format!(
                "[Service]\nAmbientCapabilities={0}\nCapabilityBoundingSet={0}\n",
                names.join(" ")
            );
            if allow {
                t += "NoNewPrivileges=no\n";
            }
            std::fs::write(dropins.join("fix.conf"), t).unwrap();
        },
        &|| {
            let _ = std::fs::remove_dir_all(&dropins);
        },
        &[
            "add to [Service] (or a drop-in): AmbientCapabilities=CAP_NET_BIND_SERVICE; CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        ],
    );
}

#[test]
fn kubernetes_privileged_add_drop_and_pod_level_users_under_runc() {
    let b = Bundle::new();
    let manifest = b.dir.path().join("cronjob.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: backup}\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          securityContext: {runAsUser: 2000, runAsGroup: 3000, supplementalGroups: [4, 27]}\n          containers:\n          - name: backup\n            securityContext: {runAsUser: 0, privileged: true, allowPrivilegeEscalation: false}\n          - name: side\n            securityContext:\n              allowPrivilegeEscalation: false\n              capabilities: {add: [net_admin, SYS_TIME], drop: [NET_ADMIN]}\n",
    )
    .unwrap();
    let m = manifest.to_str().unwrap();
    for file_caps in [None, Some("cap_net_admin,cap_sys_time=ep")] {
        setcap_clear(&b.entrypoint());
        if let Some(t) = file_caps {
            setcap_on(&b.entrypoint(), &[t]);
        }
        for rt in ["containerd", "cri-o", "docker"] {
            for c in ["backup", "side"] {
                let what = format!("{rt} {c} {file_caps:?}");
                let v = descriptor_matches_runc(
                    &b,
                    &["--k8s", m, "--container", c, "--runtime", rt],
                    &what,
                );
                if c == "side" && file_caps.is_some() {
                    // containerd/CRI-O: the drop wins, so net_admin leaves the
                    // bounding set and the file's effective bit makes the exec fail;
                    // moby: the add wins, the exec succeeds, but no_new_privs lets
                    // nothing into a non-root process with an empty permitted set.
                    let want = if rt == "docker" { "ok" } else { "eperm" };
                    assert_eq!(v["exec"], want, "{what}: {v}");
                }
            }
        }
    }
}

#[test]
fn the_example_unit_matches_the_caller_built_for_real() {
    require_root();
    let d = tempdir();
    let prog = d.path().join("cat");
    cp(Path::new("/bin/cat"), &prog);
    // doc/examples/web.service, with this machine's nobody for node and cat for node.
    let text = std::fs::read_to_string(example("web.service"))
        .unwrap()
        .replace("User=node", "User=nobody")
        .replace(
            "/usr/bin/node /srv/app/server.js",
            &format!("{} /proc/self/status", prog.display()),
        );
    let unit = d.path().join("web.service");
    std::fs::write(&unit, text).unwrap();
    let case = UnitCase::README;
    let r = fcap_run([
        os("verify"),
        os("--json"),
        os("--unit"),
        unit.as_os_str(),
        os("--require"),
        os("net_bind_service"),
    ]);
    r.status(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(Observed::predicted(&v), case.real(&prog).unwrap());
    assert_eq!(v["ambient"], serde_json::json!(["cap_net_bind_service"]));
}

/// moby's default list (`oci/caps/defaults.go`), which containerd's CRI shares.
const MOBY_DEFAULTS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// CRI-O's `default_capabilities`.
const CRIO_DEFAULTS: [&str; 9] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_KILL",
];

/// The capability lists an engine's code writes into the process section, as string
/// lists, transcribed step by step from the Go sources (not from fcap's model): moby
/// `TweakCapabilities` and `SetCapabilities`, containerd 1.6 CRI `WithCapabilities`,
/// CRI-O `SpecSetupCapabilities`. `avail` is what the engine's `ALL` means where it
/// asks the running process (moby, containerd: `cap.Current()`), `known` every name
/// the kernel has (CRI-O). Err: the engine refuses the container.
fn engine_lists(
    engine: &str,
    uid: u32,
    add: &[&str],
    drop: &[&str],
    avail: &[String],
    known: &[String],
) -> Result<serde_json::Value, String> {
    let up = |c: &str| c.to_ascii_uppercase();
    let prefixed = |c: &str| {
        let c = up(c);
        if c == "ALL" || c.starts_with("CAP_") {
            c
        } else {
            format!("CAP_{c}")
        }
    };
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (bounding, eff_perm) = match engine {
        "docker" => {
            let adds: Vec<String> = add.iter().map(|c| prefixed(c)).collect();
            let drops: Vec<String> = drop.iter().map(|c| prefixed(c)).collect();
            for c in adds.iter().chain(&drops) {
                if c != "ALL" && !known.contains(c) {
                    return Err(format!("unknown capability: {c:?}"));
                }
                if c != "ALL" && !avail.contains(c) {
                    return Err(format!("capability not available: {c:?}"));
                }
            }
            let caps: Vec<String> = if add.is_empty() && drop.is_empty() {
                strings(&MOBY_DEFAULTS)
            } else if adds.iter().any(|c| c == "ALL") {
                avail
                    .iter()
                    .filter(|c| !drops.contains(c))
                    .cloned()
                    .collect()
            } else if drops.iter().any(|c| c == "ALL") {
                adds
            } else {
                let mut v: Vec<String> = MOBY_DEFAULTS
                    .iter()
                    .map(|s| s.to_string())
                    .filter(|c| !drops.contains(c))
                    .collect();
                v.extend(adds);
                v
            };
            // SetCapabilities: a non-root user gets the bounding set only.
            let ep = if uid == 0 { caps.clone() } else { Vec::new() };
            (caps, ep)
        }
        "containerd" => {
            let mut caps = strings(&MOBY_DEFAULTS);
            if add.iter().any(|c| c.eq_ignore_ascii_case("all")) {
                caps = avail.to_vec();
            }
            if drop.iter().any(|c| c.eq_ignore_ascii_case("all")) {
                caps.clear();
            }
            for c in add.iter().filter(|c| up(c) != "ALL") {
                let n = format!("CAP_{}", up(c));
                if !caps.contains(&n) {
                    caps.push(n);
                }
            }
            for c in drop.iter().filter(|c| up(c) != "ALL") {
                let n = format!("CAP_{}", up(c));
                caps.retain(|x| *x != n);
            }
            (caps.clone(), caps)
        }
        "cri-o" => {
            let add_all = add.iter().any(|c| c.eq_ignore_ascii_case("all"));
            let drop_all = drop.iter().any(|c| c.eq_ignore_ascii_case("all"));
            let mut adds = strings(add);
            if !add_all && !drop_all {
                adds.extend(strings(&CRIO_DEFAULTS));
            }
            let mut caps: Vec<String> = Vec::new();
            if add_all {
                caps = known.to_vec();
            }
            if drop_all {
                caps.clear();
            }
            for c in adds.iter().filter(|c| !c.eq_ignore_ascii_case("all")) {
                let n = up(&prefixed(c));
                if !known.contains(&n) {
                    return Err(format!("unknown capability {n:?} to add"));
                }
                if !caps.contains(&n) {
                    caps.push(n);
                }
            }
            for c in drop.iter().filter(|c| !c.eq_ignore_ascii_case("all")) {
                let n = up(&prefixed(c));
                if !known.contains(&n) {
                    return Err(format!("unknown capability {n:?} to drop"));
                }
                caps.retain(|x| *x != n);
            }
            (caps.clone(), caps)
        }
        _ => unreachable!(),
    };
    Ok(serde_json::json!({
        "bounding": bounding, "effective": eff_perm, "permitted": eff_perm,
        "inheritable": [], "ambient": [],
    }))
}

/// Capability names of a mask, as runc spells them.
fn cap_names(mask: u64) -> Vec<String> {
    names(mask)
}

/// Random add/drop lists (every spelling engines meet: bare, `CAP_`-prefixed, lower
/// case, `ALL`, one capability this machine lacks), a random user and no_new_privs,
/// written as a Compose file or a Kubernetes pod (directly, or through a YAML merge
/// key) for Docker, containerd and CRI-O: fcap's prediction from the descriptor
/// against runc running the section the engine's own code builds (transcribed in
/// [`engine_lists`]), on an entrypoint with random file capabilities.
/// `FCAP_ENGINES_SEED` replays a run, `FCAP_ENGINES_CASES` sets the count.
#[test]
fn engine_add_drop_and_merge_keys_match_runc_running_the_engines_section() {
    let b = Bundle::new();
    let (seed, cases, mut rng) = random_run("FCAP_ENGINES", "engine differential test", 60);
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let avail = cap_names(eff);
    let known = cap_names((1u64 << (last + 1)) - 1);
    let pool = [
        "NET_BIND_SERVICE",
        "net_raw",
        "CAP_KILL",
        "cap_chown",
        "SYS_ADMIN",
        "ALL",
        "all",
        "SETUID",
        "SYS_RESOURCE",
        "FOO",
    ];
    let dir = b.dir.path();
    let (mut ran, mut refused, mut rejected) = (0, 0, 0);
    for case in 0..cases {
        let engine = *rng.pick(&["docker", "containerd", "cri-o"]);
        let pick = |rng: &mut SplitMix| -> Vec<&str> {
            pool.iter()
                .copied()
                .filter(|c| {
                    rng.chance(if matches!(*c, "SYS_RESOURCE" | "FOO") {
                        7
                    } else {
                        18
                    })
                })
                .collect()
        };
        let (add, drop) = (pick(&mut rng), pick(&mut rng));
        let uid = *rng.pick(&[0u32, 1000]);
        let nnp = rng.chance(40);
        let merge = rng.chance(50);
        let list = |v: &[&str]| format!("[{}]", v.join(", "));
        let (file, flags) = if engine == "docker" {
            let caps = format!("cap_add: {}\n    cap_drop: {}\n", list(&add), list(&drop));
            let nnp_line = if nnp {
                "    security_opt: [no-new-privileges:true]\n"
            } else {
                ""
            };
            let text = if merge {
                format!(
                    "x-caps: &caps\n    {caps}services:\n  app:\n    user: \"{uid}:{uid}\"\n{nnp_line}    <<: *caps\n"
                )
            } else {
                format!("services:\n  app:\n    user: \"{uid}:{uid}\"\n{nnp_line}    {caps}")
            };
            let f = dir.join("compose.yaml");
            std::fs::write(&f, &text).unwrap();
            (text, vec!["--compose".to_string(), f.display().to_string()])
        } else {
            let caps = format!("{{add: {}, drop: {}}}", list(&add), list(&drop));
            let ape = if nnp {
                "\n      allowPrivilegeEscalation: false"
            } else {
                ""
            };
            let text = if merge {
                format!(
                    "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n  - name: base\n    securityContext:\n      capabilities: &caps {caps}\n  - name: app\n    securityContext:\n      runAsUser: {uid}\n      runAsGroup: {uid}{ape}\n      capabilities:\n        <<: *caps\n"
                )
            } else {
                format!(
                    "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n  - name: app\n    securityContext:\n      runAsUser: {uid}\n      runAsGroup: {uid}{ape}\n      capabilities: {caps}\n"
                )
            };
            let f = dir.join("pod.yaml");
            std::fs::write(&f, &text).unwrap();
            (
                text,
                vec![
                    "--k8s".to_string(),
                    f.display().to_string(),
                    "--container".to_string(),
                    "app".to_string(),
                    "--runtime".to_string(),
                    engine.to_string(),
                ],
            )
        };
        // The entrypoint's own capabilities.
        setcap_clear(&b.entrypoint());
        let fcaps = *rng.pick(&[
            None,
            Some("cap_net_bind_service=ep"),
            Some("cap_kill,cap_net_raw=p"),
            Some("cap_chown,cap_setuid=ep"),
        ]);
        if let Some(t) = fcaps {
            setcap_on(&b.entrypoint(), &[t]);
        }
        let what = format!(
            "case {case} (FCAP_ENGINES_SEED={seed}) {engine} uid {uid} nnp {nnp} file caps {fcaps:?}\n{file}"
        );
        let mut args = vec!["verify".to_string(), "--json".to_string()];
        args.extend(flags);
        args.push(b.entrypoint().display().to_string());
        let r = fcap_run(&args);
        let section = match engine_lists(engine, uid, &add, &drop, &avail, &known) {
            Ok(s) => s,
            Err(e) => {
                // The engine refuses the container: so does verify, in one line.
                r.status(2);
                assert!(
                    r.stderr().contains("refuses to create the container"),
                    "{what}\nengine: {e}\nfcap: {}",
                    r.stderr()
                );
                rejected += 1;
                continue;
            }
        };
        assert!(matches!(r.code(), 0 | 1), "{what}\n{}", r.stderr());
        let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
        b.write(&serde_json::json!({
            "user": {"uid": uid, "gid": uid},
            "capabilities": section,
            // The kubelet sets it whenever allowPrivilegeEscalation is false (the
            // API server refuses only the literal CAP_SYS_ADMIN, never drawn here).
            "noNewPrivileges": nnp,
        }));
        match b.run() {
            Ok(seen) => {
                assert_eq!(v["exec"], "ok", "runc ran it: {what}\n{v}");
                assert_eq!(
                    Observed::predicted(&v),
                    seen,
                    "fcap (left) and runc (right): {what}\nsection {section}"
                );
                ran += 1;
            }
            Err(e) => {
                assert!(e.contains("operation not permitted"), "runc: {e}\n{what}");
                assert_eq!(v["exec"], "eperm", "runc: {e}\n{what}\n{v}");
                refused += 1;
            }
        }
        // containerd's CAP_ prefix: the note says what happened to the names.
        let prefixed = add
            .iter()
            .chain(&drop)
            .any(|c| c.to_ascii_uppercase().starts_with("CAP_"));
        if engine == "containerd" && prefixed {
            let notes = v["caller"]["notes"].to_string();
            assert!(notes.contains("CAP_CAP_"), "{what}\n{notes}");
        }
    }
    eprintln!(
        "engine differential test: {ran} ran, {refused} refused by runc or the kernel, {rejected} refused by the engine"
    );
    if cases >= 40 {
        assert!(
            ran > 0 && refused > 0 && rejected > 0,
            "{ran} {refused} {rejected}"
        );
    }
}

/// What `unit_patch_contexts()` and `context_has_no_new_privileges()` of v252 make of
/// one sandboxing line (transcribed from the C): the capabilities it removes from the
/// bounding set, and whether it implies no_new_privs for an unprivileged service.
const SANDBOX_LINES: [(&str, u64, bool); 12] = [
    ("", 0, false),
    ("SystemCallFilter=@system-service", 0, true),
    ("SystemCallLog=@clock", 0, true),
    ("RestrictFileSystems=ext4 tmpfs", 0, false),
    (
        "RestrictNamespaces=cgroup ipc net mnt pid user uts",
        0,
        false,
    ),
    ("RestrictNamespaces=~user", 0, true),
    ("PrivateDevices=yes", 1 << 27 | 1 << 17, true),
    ("ProtectKernelModules=yes", 1 << 16, true),
    ("ProtectKernelLogs=yes", 1 << 34, true),
    ("ProtectClock=yes", 1 << 25 | 1 << 35, true),
    ("ProtectHostname=no", 0, false),
    ("RestrictRealtime=yes", 0, true),
];

/// Random units (users, DynamicUser=, ambient capabilities inside and outside the
/// bounding set, sandboxing options, SecureBits=noroot, ExecStart=!) against the
/// rebuilt exec_child() running the program for real: what verify predicts from the
/// unit is what the program's /proc/self/status shows. `FCAP_UNITS_SEED` replays a
/// run, `FCAP_UNITS_CASES` sets the count.
#[test]
fn units_match_systemd_252s_exec_child_rebuilt() {
    require_root();
    let d = tempdir();
    // systemd 252's exec_child() steps, rebuilt in C.
    let caller = build_c("exec_child", d.path());
    let prog = d.path().join("cat");
    cp(Path::new("/bin/cat"), &prog);
    let unit = d.path().join("svc.service");
    let (seed, cases, mut rng) = random_run("FCAP_UNITS", "systemd unit differential test", 80);
    // Capabilities the sandboxing lines remove are in the pool, so that shows.
    let pool = [0u32, 5, 10, 13, 16, 21, 25, 27];
    let (mut ran, mut failed, mut dropped_ambient) = (0, 0, 0);
    for case in 0..cases {
        let bounding = rng.subset(&pool, 60);
        let ambient = rng.subset(&pool, 25);
        let user = *rng.pick(&[
            None,
            Some("root"),
            Some("nobody"),
            Some("65534"),
            Some("nobody"),
        ]);
        let dynamic = rng.chance(10);
        let nnp = rng.chance(25);
        let noroot = rng.chance(10);
        let bang = rng.chance(10);
        let (line, removes, implies) = *rng.pick(&SANDBOX_LINES);
        let group = if rng.chance(30) {
            Some(*rng.pick(&[("adm", 4u32), ("nogroup", 65534), ("root", 0)]))
        } else {
            None
        };
        let mut t = String::from("[Service]\n");
        if let Some(u) = user {
            t += &format!("User={u}\n");
        }
        if let Some((g, _)) = group {
            t += &format!("Group={g}\n");
        }
        if dynamic {
            t += "DynamicUser=yes\n";
        }
        if ambient != 0 {
            t += &format!("AmbientCapabilities={}\n", names(ambient).join(" "));
        }
        t += &format!("CapabilityBoundingSet={}\n", names(bounding).join(" "));
        if nnp {
            t += "NoNewPrivileges=yes\n";
        }
        if !line.is_empty() {
            t += &format!("{line}\n");
        }
        if noroot {
            t += "SecureBits=noroot\n";
        }
        t += &format!(
            "ExecStart={}{} /proc/self/status\n",
            if bang { "!" } else { "" },
            prog.display()
        );
        std::fs::write(&unit, &t).unwrap();
        setcap_clear(&prog);
        let fcaps = *rng.pick(&[
            None,
            Some("cap_net_raw,cap_net_bind_service=ep"),
            Some("cap_kill+ip"),
            Some("cap_sys_time=ep"),
        ]);
        if let Some(f) = fcaps {
            setcap_on(&prog, &[f]);
        }
        let what = format!("case {case} (FCAP_UNITS_SEED={seed}), file caps {fcaps:?}\n{t}");
        // The account as get_user_creds() finds it; DynamicUser= takes an existing
        // account of the name (dynamic_user_realize), else a fresh uid for the unit's
        // name.
        let (name, uid, gid) = match (dynamic, user) {
            (_, Some("root")) => ("root", Some(0), Some(0)),
            (_, Some(_)) => ("nobody", Some(65534), Some(65534)),
            (true, None) => ("svc", Some(61184), Some(61184)),
            (false, None) => ("-", None, None),
        };
        // Group= (get_fixed_group) replaces the account's group, also without User=.
        let gid = group.map(|(_, g)| g).or(gid);
        let id = |v: Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
        let out = Command::new(&caller)
            .arg(format!("{:x}", bounding & !removes))
            .arg(format!("{ambient:x}"))
            .arg(name)
            .arg(id(uid))
            .arg(id(gid))
            .arg(if noroot { "1" } else { "0" })
            .arg(if nnp || dynamic { "1" } else { "0" })
            .arg(if implies { "1" } else { "0" })
            .arg(if bang { "0" } else { "1" })
            .arg(&prog)
            .arg("/proc/self/status")
            .output()
            .unwrap();
        let r = fcap_run([os("verify"), os("--json"), os("--unit"), unit.as_os_str()]);
        assert!(matches!(r.code(), 0 | 1), "{what}\n{}", r.stderr());
        let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
        if out.status.success() {
            let seen = Observed::parse(&String::from_utf8_lossy(&out.stdout));
            assert_eq!(v["exec"], "ok", "{what}: {v}");
            assert_eq!(
                Observed::predicted(&v),
                seen,
                "fcap (left) and exec_child (right): {what}"
            );
            // The ids too: the first Uid:/Gid: field of the program's status.
            let status = String::from_utf8_lossy(&out.stdout);
            let first = |k: &str| -> u64 {
                let l = status.lines().find_map(|l| l.strip_prefix(k)).unwrap();
                l.split_whitespace().next().unwrap().parse().unwrap()
            };
            assert_eq!(
                (v["uid"].as_u64(), v["gid"].as_u64()),
                (Some(first("Uid:")), Some(first("Gid:"))),
                "ids, fcap (left) and exec_child (right): {what}"
            );
            ran += 1;
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("Operation not permitted"),
                "{what}: exec_child {:?}: {err}",
                out.status
            );
            assert_eq!(v["exec"], "eperm", "{what}: {v}\n{err}");
            failed += 1;
        }
        let outside = ambient & !(bounding & !removes) != 0;
        if outside {
            dropped_ambient += 1;
            assert!(
                v["caller"]["notes"]
                    .to_string()
                    .contains("outside the bounding set"),
                "{what}: {v}"
            );
        }
    }
    // A number with no account: get_user_creds() fails, the unit never starts
    // (status=217/USER), and verify says so instead of running a uid systemd won't.
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    assert!(!passwd.lines().any(|l| l.split(':').nth(2) == Some("4242")));
    std::fs::write(
        &unit,
        format!("[Service]\nUser=4242\nExecStart={}\n", prog.display()),
    )
    .unwrap();
    let r = fcap_run([os("verify"), os("--unit"), unit.as_os_str()]);
    r.status(2);
    r.stderr_has("User=4242: no account has uid 4242 on this machine: systemd fails to start the unit (status=217/USER)");
    eprintln!(
        "systemd unit differential test: {ran} ran, {failed} exec failures, {dropped_ambient} with ambient capabilities outside the bounding set"
    );
    if cases >= 40 {
        assert!(
            ran > 0 && failed > 0 && dropped_ambient > 0,
            "{ran} {failed} {dropped_ambient}"
        );
    }
}
