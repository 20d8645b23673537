//! `fcap verify` against the kernel: every prediction here is compared with a real
//! exec of a real capped file by a caller built for real with libcap's `capsh`.
//!
//! The caller is built exactly as shared spec verify-caller.md says: `capsh` applies
//! `--inh`, `--drop`, `--secbits`, `--keep=1 --gid --groups --uid`, `--addamb`,
//! `--no-new-privs` in that order and then runs `sh -c 'exec "$0" …' FILE`, so the
//! process that calls `execve(FILE)` is a freshly exec'd shell in the described state
//! (not capsh itself, which still holds its full permitted set). The exec'd file is a
//! copy of `cat` carrying the capabilities; it prints `/proc/self/status` (for
//! CapPrm/CapEff/CapAmb), and glibc's `LD_SHOW_AUXV` dump tells AT_SECURE (glibc
//! prints it only when the exec is not secure).
//!
//! The random differential test is seeded: set `FCAP_VERIFY_SEED` to replay a run,
//! `FCAP_VERIFY_CASES` to change the number of cases (default 1000). Its files are
//! copies of `cat` and ELF variants of it (another machine, a loader missing, not
//! executable, not an ELF, or named past the end of the file), executable files
//! others may not read, values getxattr hides (written offline), in a plain
//! directory, on a nosuid mount, or over a hidden noexec,nosuid mount.

use crate::util::*;
use fcap::caps::{self, CapSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const NOBODY: u32 = 65534;

/// What a process got from an exec, or how the exec failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Observed {
    pub(super) exec: String,
    pub(super) permitted: u64,
    pub(super) effective: u64,
    pub(super) ambient: u64,
    pub(super) secure: Option<bool>,
}

/// A caller, described once for capsh and once for fcap.
#[derive(Clone, Debug)]
pub(super) struct Caller {
    pub(super) root: bool,
    pub(super) inh: u64,
    pub(super) amb: u64,
    pub(super) drop: u64,
    pub(super) nnp: bool,
    pub(super) noroot: bool,
    /// Name the user even where fcap would infer it (root with an override, as the
    /// test runs as root).
    pub(super) explicit_user: bool,
}

fn list(bits: u64) -> String {
    CapSet(bits).names().join(",")
}

pub(super) fn this_bounding() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    hex_field(&s, "CapBnd:").unwrap()
}

fn hex_field(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
}

/// capsh building the caller `c` (shared spec verify-caller.md), ending in
/// `--shell=/bin/sh -- -c`: the shell it starts is a process freshly exec'd in that
/// state; add the shell's command line.
pub(super) fn capsh_caller(c: &Caller) -> Command {
    let mut cmd = Command::new("capsh");
    let inh = c.inh | c.amb;
    if inh != 0 {
        cmd.arg(format!("--inh={}", list(inh)));
    }
    if c.drop != 0 {
        cmd.arg(format!("--drop={}", list(c.drop)));
    }
    if c.noroot {
        cmd.arg("--secbits=1");
    }
    if !c.root {
        cmd.args([
            "--keep=1".to_string(),
            format!("--gid={NOBODY}"),
            "--groups=".to_string(),
            format!("--uid={NOBODY}"),
        ]);
    }
    if c.amb != 0 {
        cmd.arg(format!("--addamb={}", list(c.amb)));
    }
    if c.nnp {
        cmd.arg("--no-new-privs");
    }
    cmd.args(["--shell=/bin/sh", "--", "-c"]);
    cmd
}

/// The argument list that builds `c` and has it exec `file`.
fn capsh_cmd(c: &Caller, file: &Path) -> Command {
    let mut cmd = capsh_caller(c);
    let unreadable = std::fs::metadata(file).is_ok_and(|m| m.permissions().mode() & 0o004 == 0);
    if unreadable {
        // On ENOEXEC the shell tries to read the file itself (to run it as a script)
        // and reports that error instead: a file others may not read is exec'd by a
        // python3 the shell execs, a process in the same state (no file
        // capabilities, no set-ID bits), which reports the errno it gets.
        cmd.arg("exec /usr/bin/python3 -c \"$1\" \"$0\"").arg(file).arg(
            "import os, sys\ntry:\n    os.execve(sys.argv[1], [sys.argv[1], '/proc/self/status'], dict(os.environ, LD_SHOW_AUXV='1'))\nexcept OSError as e:\n    print(os.strerror(e.errno), file=sys.stderr)\n    sys.exit(126)",
        );
    } else {
        cmd.arg("LD_SHOW_AUXV=1 exec \"$0\" /proc/self/status")
            .arg(file);
    }
    cmd
}

/// Parse the exec'd program's output: the dynamic linker's `LD_SHOW_AUXV` dump
/// (glibc prints it only outside secure-execution mode, so its absence means
/// AT_SECURE), then `/proc/self/status`.
pub(super) fn parse_output(out: &[u8]) -> Observed {
    let text = String::from_utf8_lossy(out);
    let secure = match text.lines().find_map(|l| l.strip_prefix("AT_SECURE:")) {
        Some(v) => v.trim() != "0",
        None => true,
    };
    Observed {
        exec: "ok".into(),
        permitted: hex_field(&text, "CapPrm:").expect("CapPrm in the output"),
        effective: hex_field(&text, "CapEff:").unwrap(),
        ambient: hex_field(&text, "CapAmb:").unwrap(),
        secure: Some(secure),
    }
}

/// What a real exec run reported: the program's own status on success, else the
/// errno named in the exec'ing tool's message.
fn observed(r: &Run) -> Observed {
    if r.code() == 0 {
        return parse_output(&r.out.stdout);
    }
    let err = r.stderr();
    let exec = [
        ("Operation not permitted", "eperm"),
        ("Invalid argument", "einval"),
        ("Numerical result out of range", "erange"),
        ("Permission denied", "eacces"),
        ("Too many levels", "eloop"),
        ("not found", "enoent"),
        ("No such file", "enoent"),
        ("Exec format error", "enoexec"),
        ("Input/output error", "eio"),
        ("corrupted shared library", "elibbad"),
        ("Text file busy", "etxtbsy"),
    ]
    .iter()
    .find(|(m, _)| err.contains(m))
    .map(|(_, code)| code.to_string())
    .unwrap_or_else(|| panic!("`{}` failed in an unexpected way:\n{err}", r.cmd));
    Observed {
        exec,
        permitted: 0,
        effective: 0,
        ambient: 0,
        secure: None,
    }
}

/// Build the caller for real and let it exec `file`.
fn real(c: &Caller, file: &Path) -> Observed {
    let r = run(capsh_cmd(c, file));
    observed(&r)
}

/// The same caller described to fcap.
pub(super) fn fcap_args(c: &Caller, file: &Path) -> Vec<String> {
    let mut a = vec!["verify".to_string(), "--json".to_string()];
    let overrides = c.inh | c.amb | c.drop != 0 || c.nnp || c.noroot;
    if !c.root || c.explicit_user || !overrides {
        a.push("--user".into());
        a.push(if c.root {
            "0".into()
        } else {
            NOBODY.to_string()
        });
    }
    if c.inh != 0 {
        a.extend(["--inheritable".to_string(), list(c.inh)]);
    }
    if c.amb != 0 {
        a.extend(["--ambient".to_string(), list(c.amb)]);
    }
    if c.drop != 0 {
        a.extend(["--drop".to_string(), list(c.drop)]);
    }
    if c.nnp {
        a.push("--no-new-privs".into());
    }
    if c.noroot {
        a.push("--noroot".into());
    }
    a.push(file.to_str().unwrap().to_string());
    a
}

pub(super) fn names_to_bits(v: &serde_json::Value) -> u64 {
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| 1u64 << caps::lookup(n.as_str().unwrap()).unwrap())
        .fold(0, |a, b| a | b)
}

fn predicted_json(args: &[String]) -> serde_json::Value {
    let r = fcap_run(args);
    assert!(
        r.code() == 0 || r.code() == 1,
        "`{}` failed:\n{}",
        r.cmd,
        r.stderr()
    );
    serde_json::from_str(&r.stdout()).unwrap_or_else(|e| panic!("{e}: {}", r.stdout()))
}

fn predicted(c: &Caller, file: &Path) -> Observed {
    let v = predicted_json(&fcap_args(c, file));
    let ok = v["exec"] == "ok";
    Observed {
        exec: v["exec"].as_str().unwrap().to_string(),
        permitted: if ok {
            names_to_bits(&v["permitted"])
        } else {
            0
        },
        effective: if ok {
            names_to_bits(&v["effective"])
        } else {
            0
        },
        ambient: if ok { names_to_bits(&v["ambient"]) } else { 0 },
        secure: ok.then(|| v["secure_exec"].as_bool().unwrap()),
    }
}

/// A file value for the random test: the raw xattr (None = no attribute), and its
/// mode and owner (set-ID bits, or no execute permission for others).
#[derive(Clone, Debug)]
struct FileValue {
    xattr: Option<Vec<u8>>,
    /// The program's bytes when it is not a plain copy of `cat` (an ELF variant).
    program: Option<Vec<u8>>,
    mode: u32,
    owner: (u32, u32),
}

/// Modes and owners for the random test, with how often each is picked (percent).
const SHAPES: [(u64, u32, (u32, u32), &str); 7] = [
    (40, 0o755, (0, 0), "plain"),
    (25, 0o4755, (0, 0), "setuid-root"),
    (8, 0o4755, (NOBODY, NOBODY), "setuid-nobody"),
    (8, 0o2755, (0, NOBODY), "setgid-nogroup"),
    (8, 0o2755, (0, 4343), "setgid-4343"),
    (6, 0o750, (0, 0), "0750 root:root"),
    // Executable but not readable by others: the kernel runs it for nobody.
    (5, 0o711, (0, 0), "0711"),
];

pub(super) fn v2(permitted: u64, inheritable: u64, effective: bool) -> Vec<u8> {
    let magic = 0x0200_0000u32 | u32::from(effective);
    [
        magic,
        permitted as u32,
        inheritable as u32,
        (permitted >> 32) as u32,
        (inheritable >> 32) as u32,
    ]
    .iter()
    .flat_map(|w| w.to_le_bytes())
    .collect()
}

/// A copy of `cat` (the exec'd program must be the capped file itself).
fn copy_cat(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    cp(Path::new("/bin/cat"), &p);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn make_file(dir: &Path, name: &str, v: &FileValue) -> PathBuf {
    let p = match &v.program {
        None => copy_cat(dir, name),
        Some(bytes) => {
            let p = dir.join(name);
            write_exec(&p, bytes);
            p
        }
    };
    // chown before setxattr: a chown removes security.capability (killpriv), and
    // before chmod: it clears set-ID bits.
    std::os::unix::fs::chown(&p, Some(v.owner.0), Some(v.owner.1)).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(v.mode)).unwrap();
    if let Some(x) = &v.xattr {
        set_raw_xattr(&p, x).unwrap();
    }
    p
}

/// ELF variants of `cat` for the random test, each with what the kernel's ELF loader
/// makes of it: (name, bytes). `dir` receives the program loaders they name.
fn elf_variants(dir: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let cat = std::fs::read("/bin/cat").unwrap();
    let patch = |at: usize, b: &[u8]| {
        let mut e = cat.clone();
        e[at..at + b.len()].copy_from_slice(b);
        e
    };
    let ph = interp_phdr(&cat);
    let interp_off = u64::from_le_bytes(cat[ph + 8..ph + 16].try_into().unwrap()) as usize;
    let ld_text = dir.join("ld-text");
    write_exec(&ld_text, &[b'x'; 100]);
    let ld_0700 = dir.join("ld-0700");
    cp(Path::new(&loader_of(&cat)), &ld_0700);
    std::fs::set_permissions(&ld_0700, std::fs::Permissions::from_mode(0o700)).unwrap();
    let bytes = |p: &Path| p.as_os_str().as_encoded_bytes().to_vec();
    vec![
        ("elf-other-machine", patch(18, &183u16.to_le_bytes())),
        ("elf-class-byte-32", patch(4, &[1])),
        ("elf-loader-name-cut", cat[..interp_off + 4].to_vec()),
        (
            "elf-loader-missing",
            with_loader(&cat, b"/lib/ld-musl-x86_64.so.1-fcap"),
        ),
        ("elf-loader-text", with_loader(&cat, &bytes(&ld_text))),
        ("elf-loader-0700", with_loader(&cat, &bytes(&ld_0700))),
    ]
}

/// The program loader (PT_INTERP) a 64-bit ELF names.
fn loader_of(elf: &[u8]) -> String {
    let ph = interp_phdr(elf);
    let off = u64::from_le_bytes(elf[ph + 8..ph + 16].try_into().unwrap()) as usize;
    let len = u64::from_le_bytes(elf[ph + 32..ph + 40].try_into().unwrap()) as usize;
    String::from_utf8(elf[off..off + len - 1].to_vec()).unwrap()
}

/// Where the random test's files live: the temp dir, a nosuid tmpfs, and a directory
/// of a fresh tmpfs mounted over a noexec,nosuid one (which must not count).
struct Places {
    dirs: [PathBuf; 3],
    // Unmounted in this order on drop: the over-mount before what it hides.
    _mounts: Vec<Mounted>,
}

impl Places {
    fn new(dir: &Path) -> Places {
        let mount = |opts: &str, at: &Path| {
            std::fs::create_dir_all(at).unwrap();
            let st = Command::new("mount")
                .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
                .arg(at)
                .status()
                .unwrap();
            assert!(st.success(), "mount {opts} {}", at.display());
            Mounted(at.to_path_buf())
        };
        let nosuid = dir.join("nosuid");
        let ns = mount("mode=755,nosuid", &nosuid);
        let m1 = dir.join("m1");
        let lower = mount("mode=755", &m1);
        let hidden = mount("mode=755,noexec,nosuid", &m1.join("sub"));
        let upper = mount("mode=755", &m1);
        std::fs::create_dir(m1.join("sub")).unwrap();
        std::fs::set_permissions(m1.join("sub"), std::fs::Permissions::from_mode(0o755)).unwrap();
        Places {
            dirs: [dir.to_path_buf(), nosuid, m1.join("sub")],
            _mounts: vec![upper, hidden, lower, ns],
        }
    }
}

fn describe(v: &FileValue) -> String {
    let caps = match &v.xattr {
        None => "no xattr".to_string(),
        Some(x) => match fcap::filecaps::FileCaps::decode(x) {
            Ok(f) if f.is_empty() && f.effective => "'=' with the effective flag".to_string(),
            Ok(f) => format!("'{}'", f.to_text()),
            Err(e) => e.to_string(),
        },
    };
    format!(
        "{caps}, mode {:04o}, owner {}:{}{}",
        v.mode,
        v.owner.0,
        v.owner.1,
        if v.program.is_some() {
            ", an ELF variant"
        } else {
            ""
        }
    )
}

#[track_caller]
fn assert_same(c: &Caller, file: &Path, what: &str) -> Observed {
    let want = real(c, file);
    let got = predicted(c, file);
    if got.exec == "unknown" {
        // verify may give up only where the kernel hides the value from getxattr.
        let errno = xattr::get(file, "security.capability")
            .err()
            .and_then(|e| e.raw_os_error());
        assert_eq!(
            errno,
            Some(libc::EINVAL),
            "unknown for {what}, but the value is readable"
        );
        return want;
    }
    assert_eq!(
        got,
        want,
        "fcap (left) and the kernel (right) disagree for {what}\ncaller: {c:?}\nfcap args: {:?}\ncapsh: {:?}",
        fcap_args(c, file),
        capsh_cmd(c, file)
    );
    want
}

#[test]
fn random_callers_and_files_match_the_kernel() {
    require_root();
    let (seed, cases, mut rng) = random_run("FCAP_VERIFY", "verify differential test", 1000);
    let bounding = this_bounding();
    // A few capabilities, so that file, caller and drop sets overlap often. File
    // values may name capabilities outside this machine's bounding set (here
    // cap_sys_resource); a caller cannot make those inheritable.
    let pool: [u32; 6] = [0, 5, 10, 13, 23, 24];
    let caller_pool: Vec<u32> = pool
        .iter()
        .copied()
        .filter(|c| bounding & (1 << c) != 0)
        .collect();
    let per_file = 15;
    let files = cases.div_ceil(per_file);
    let dir = tempdir();
    let places = Places::new(dir.path());
    let variants = elf_variants(dir.path());
    // Values getxattr hides, written offline (setxattr refuses them): a zero-length
    // one (exec fails), a v1 value and a v2 value with an unknown flag bit (exec
    // grants them). One file per shape and value, made once, stands in whenever the
    // roll asks for one.
    let v1: &[u8] = &[1, 0, 0, 1, 1, 0x20, 0, 0, 0, 0, 0, 0];
    let mut flagged = v2(1 << 13 | 1, 0, true);
    flagged[0] |= 0x10;
    let hidden: [(&str, &[u8]); 3] = [("empty", &[]), ("v1", v1), ("flagged", &flagged)];
    let names: Vec<(usize, usize, String)> = (0..SHAPES.len())
        .flat_map(|i| (0..hidden.len()).map(move |h| (i, h, format!("{}{i}", hidden[h].0))))
        .collect();
    let offline = OfflineFs::new(
        &names
            .iter()
            .map(|(i, h, name)| OfflineFile {
                name,
                src: Path::new("/bin/cat"),
                mode: SHAPES[*i].1,
                owner: SHAPES[*i].2,
                value: Some(hidden[*h].1),
            })
            .collect::<Vec<_>>(),
        "",
    );
    let mut seen_outcomes = std::collections::BTreeMap::<String, usize>::new();
    let mut seen_kinds = std::collections::BTreeMap::<&str, usize>::new();
    let mut done = 0;
    for k in 0..files {
        let roll = rng.next() % 100;
        let mut hidden_value = None;
        let xattr = match roll {
            0..=9 => None,
            10..=16 => Some(v2(0, 0, false)),
            17..=22 => {
                hidden_value = Some((rng.next() % hidden.len() as u64) as usize);
                None
            }
            23..=29 => {
                // A namespaced value: rootid 1000 is no namespace's root here; 100000
                // is the root of the user namespaces the namespaced callers use.
                let mut v = v2(rng.subset(&pool, 35), rng.subset(&pool, 25), rng.chance(50));
                v[3] = 3;
                v.extend(rng.pick(&[1000u32, 100_000]).to_le_bytes());
                Some(v)
            }
            _ => Some(v2(
                rng.subset(&pool, 35),
                rng.subset(&pool, 25),
                rng.chance(50),
            )),
        };
        let mut pick = rng.next() % 100;
        let shape = SHAPES
            .iter()
            .find(|s| {
                let hit = pick < s.0;
                pick = pick.saturating_sub(s.0);
                hit
            })
            .unwrap_or(&SHAPES[0]);
        let variant = rng.chance(25).then(|| rng.pick(&variants));
        let value = FileValue {
            xattr,
            program: variant.map(|v| v.1.clone()),
            mode: shape.1,
            owner: shape.2,
        };
        let place = match rng.next() % 10 {
            0 => &places.dirs[1],
            1 | 2 => &places.dirs[2],
            _ => &places.dirs[0],
        };
        let (file, what) = match hidden_value {
            Some(h) => {
                let i = SHAPES.iter().position(|s| s == shape).unwrap_or(0);
                (offline.path(&format!("{}{i}", hidden[h].0)), hidden[h].0)
            }
            None => (
                make_file(place, &format!("f{k}"), &value),
                variant.map_or("cat", |v| v.0),
            ),
        };
        *seen_kinds.entry(what).or_default() += 1;
        let namespaced = rng.chance(10);
        for _ in 0..per_file.min(cases - done) {
            if namespaced {
                let c = rng.pick(&NS_CALLERS);
                let want = assert_same_in_userns(
                    c,
                    &file,
                    &format!(
                        "file {} ({}, {what}), case {done}, FCAP_VERIFY_SEED={seed}",
                        file.display(),
                        describe(&value)
                    ),
                );
                *seen_outcomes
                    .entry(format!("userns {}", want.exec))
                    .or_default() += 1;
                done += 1;
                continue;
            }
            let root = rng.chance(35);
            let inh = rng.subset(&caller_pool, 30);
            let amb = rng.subset(&caller_pool, 25);
            let c = Caller {
                root,
                inh,
                amb,
                drop: rng.subset(&pool, 25),
                nnp: rng.chance(30),
                noroot: rng.chance(25),
                explicit_user: rng.chance(50),
            };
            let want = assert_same(
                &c,
                &file,
                &format!(
                    "file {} ({}, {what}), case {done}, FCAP_VERIFY_SEED={seed}",
                    file.display(),
                    describe(&value)
                ),
            );
            *seen_outcomes.entry(want.exec).or_default() += 1;
            done += 1;
        }
    }
    eprintln!("{done} cases, outcomes: {seen_outcomes:?}, files: {seen_kinds:?}");
    assert_eq!(done, cases);
    // A run that never saw a failing exec would test only half of the model.
    assert!(seen_outcomes.get("ok").copied().unwrap_or(0) > cases / 4);
}

/// Runs a command in a new user namespace whose uid_map and gid_map the parent
/// (root) writes, as uid and gid (inside) `argv[3]`, `argv[4]`: the child unshares,
/// waits for its maps, drops to the ids (which clears its capabilities unless it stays
/// root) and execs the command, so the command is a freshly exec'd process there.
const NSRUN: &str = r#"
import os, sys, ctypes
libc = ctypes.CDLL(None, use_errno=True)
uidmap, gidmap, uid, gid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
r, w = os.pipe(); r2, w2 = os.pipe()
pid = os.fork()
if pid == 0:
    if libc.unshare(0x10000000) != 0:
        os._exit(99)
    os.write(w, b"x"); os.read(r2, 1)
    os.setgroups([]); os.setresgid(gid, gid, gid); os.setresuid(uid, uid, uid)
    os.execvp(sys.argv[5], sys.argv[5:])
os.read(r, 1)
with open(f"/proc/{pid}/uid_map", "w") as f: f.write(uidmap.replace(";", "\n"))
with open(f"/proc/{pid}/gid_map", "w") as f: f.write(gidmap.replace(";", "\n"))
os.write(w2, b"x")
_, st = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(st))
"#;

/// A caller in a user namespace: its uid_map (= gid_map) and its ids inside.
#[derive(Debug)]
struct NsCaller {
    map: &'static str,
    id: u32,
}

/// The namespaces the tests use: root only (host 100000); 65536 ids from 100000 (the
/// overflow id 65534 is then mapped too, so an unmapped owner is ambiguous); host
/// root as uid 1000 inside, a user whose namespace's parent root owns every v2 value.
const NS_CALLERS: [NsCaller; 5] = [
    NsCaller {
        map: "0 100000 1",
        id: 0,
    },
    NsCaller {
        map: "0 100000 65536",
        id: 0,
    },
    NsCaller {
        map: "0 100000 65536",
        id: 1000,
    },
    NsCaller {
        map: "0 100000 1000;1000 0 1",
        id: 1000,
    },
    NsCaller {
        map: "0 100000 1000;1000 0 1",
        id: 0,
    },
];

fn in_userns(c: &NsCaller) -> Command {
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.args(["-c", NSRUN, c.map, c.map])
        .arg(c.id.to_string())
        .arg(c.id.to_string());
    cmd
}

/// The exec by a shell in the namespace, as [`real`] observes it.
fn real_in_userns(c: &NsCaller, file: &Path) -> Observed {
    let mut cmd = in_userns(c);
    let unreadable = std::fs::metadata(file).is_ok_and(|m| m.permissions().mode() & 0o004 == 0);
    if unreadable {
        // As in capsh_cmd: the errno of a bare exec, not the shell's own read.
        cmd.args(["/usr/bin/python3", "-c"]).arg(
            "import os, sys\ntry:\n    os.execve(sys.argv[1], [sys.argv[1], '/proc/self/status'], dict(os.environ, LD_SHOW_AUXV='1'))\nexcept OSError as e:\n    print(os.strerror(e.errno), file=sys.stderr)\n    sys.exit(126)",
        );
    } else {
        cmd.args([
            "/bin/sh",
            "-c",
            "LD_SHOW_AUXV=1 exec \"$0\" /proc/self/status",
        ]);
    }
    cmd.arg(file);
    let r = run(cmd);
    observed(&r)
}

/// `fcap verify --json FILE` run in the namespace as the caller itself.
fn predicted_in_userns(c: &NsCaller, file: &Path) -> serde_json::Value {
    let mut cmd = in_userns(c);
    cmd.arg(env!("CARGO_BIN_EXE_fcap"))
        .args(["verify", "--json"])
        .arg(file);
    let r = run(cmd);
    assert!(
        r.code() == 0 || r.code() == 1,
        "`{}` failed:\n{}",
        r.cmd,
        r.stderr()
    );
    serde_json::from_str(&r.stdout()).unwrap_or_else(|e| panic!("{e}: {}", r.stdout()))
}

/// Compare verify with the kernel for a caller in a user namespace. verify may say
/// "unknown" only for what it cannot see there: a value getxattr hides, content it
/// may not read, an owner shown as the overflow id that the namespace also maps.
#[track_caller]
fn assert_same_in_userns(c: &NsCaller, file: &Path, what: &str) -> Observed {
    let want = real_in_userns(c, file);
    let v = predicted_in_userns(c, file);
    if v["exec"] == "unknown" {
        let allowed = ["hidden-xattr", "unreadable-content", "owner-unknown"];
        assert!(
            codes(&v).iter().any(|r| allowed.contains(&r.as_str())),
            "unknown without a reason fcap may give for {what}, caller {c:?}: {v}"
        );
        return want;
    }
    let ok = v["exec"] == "ok";
    let got = Observed {
        exec: v["exec"].as_str().unwrap().to_string(),
        permitted: if ok {
            names_to_bits(&v["permitted"])
        } else {
            0
        },
        effective: if ok {
            names_to_bits(&v["effective"])
        } else {
            0
        },
        ambient: if ok { names_to_bits(&v["ambient"]) } else { 0 },
        secure: ok.then(|| v["secure_exec"].as_bool().unwrap()),
    };
    assert_eq!(
        got, want,
        "fcap (left) and the kernel (right) disagree for {what}, caller in a user namespace {c:?}: {v}"
    );
    want
}

/// verify run inside the caller's user namespace (issue 11 items 7 and 8; the
/// `--pid` view from outside is in verify_userns.rs): set-ID bits of a file whose
/// owner is unmapped there are ignored (a setuid-root file keeps the namespace's root
/// its root: all capabilities), CAP_DAC_OVERRIDE does not reach such a file (0700:
/// EACCES), a v2 value counts for a user whose namespace's parent root owns it even
/// though getxattr shows it as v3 with that user's id, and where the overflow id is
/// mapped too, verify says unknown rather than guess.
#[test]
fn verify_run_inside_a_user_namespace_matches_the_kernel() {
    require_root();
    require_tool("python3");
    let d = tempdir();
    let suid = copy_cat(d.path(), "suid-root");
    std::fs::set_permissions(&suid, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let private = copy_cat(d.path(), "root-0700");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let capped = copy_cat(d.path(), "capped");
    libcap(&["cap_net_raw=ep"], &capped);
    let root_only = &NS_CALLERS[0];
    let got = assert_same_in_userns(root_only, &suid, "setuid-root, owner unmapped");
    assert_eq!(got.exec, "ok");
    assert_ne!(
        got.effective, 0,
        "the namespace's root keeps its capabilities"
    );
    assert!(codes(&predicted_in_userns(root_only, &suid)).contains(&"setid-unmapped".to_string()));
    assert_eq!(
        assert_same_in_userns(root_only, &private, "0700, owner unmapped").exec,
        "eacces"
    );
    let host_root_inside = &NS_CALLERS[3];
    let got = assert_same_in_userns(
        host_root_inside,
        &capped,
        "v2 value, owner is uid 1000 inside",
    );
    assert_eq!((got.exec.as_str(), got.permitted), ("ok", RAW));
    assert!(
        codes(&predicted_in_userns(host_root_inside, &capped))
            .contains(&"namespace-rootid".to_string())
    );
    let v = predicted_in_userns(&NS_CALLERS[1], &suid);
    assert_eq!(v["exec"], "unknown", "{v}");
    assert!(codes(&v).contains(&"owner-unknown".to_string()), "{v}");
}

// ---------------------------------------------------------------------------
// Fixed real cases: the situations the random test cannot produce.

fn nobody() -> Caller {
    Caller {
        root: false,
        inh: 0,
        amb: 0,
        drop: 0,
        nnp: false,
        noroot: false,
        explicit_user: true,
    }
}

fn root() -> Caller {
    Caller {
        root: true,
        ..nobody()
    }
}

const NBS: u64 = 1 << 10;
const RAW: u64 = 1 << 13;

fn json_for(c: &Caller, file: &Path) -> serde_json::Value {
    predicted_json(&fcap_args(c, file))
}

fn libcap(args: &[&str], p: &Path) {
    let mut v: Vec<&std::ffi::OsStr> = args.iter().map(|a| os(a)).collect();
    v.push(p.as_os_str());
    setcap(&v).ok();
}

/// Unmounts on drop, so a failing assertion does not leave the mount behind.
pub(super) struct Mounted(pub(super) PathBuf);
impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A fresh tmpfs at `dir/mnt` with these mount options.
pub(super) fn mount_tmpfs(dir: &Path, opts: &str) -> Mounted {
    let mnt = dir.join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(st.success(), "mount -t tmpfs -o {opts} failed");
    Mounted(mnt)
}

#[test]
fn nosuid_mount_ignores_caps_setuid_and_bad_values_and_keeps_ambient() {
    require_root();
    let d = tempdir();
    let guard = mount_tmpfs(d.path(), "mode=755,nosuid");
    let mnt = guard.0.clone();
    let ep = copy_cat(&mnt, "ep");
    libcap(&["cap_net_bind_service=ep"], &ep);
    let sysres = copy_cat(&mnt, "sysres");
    libcap(&["cap_sys_resource=ep"], &sysres);
    let suid = copy_cat(&mnt, "suid");
    std::fs::set_permissions(&suid, std::fs::Permissions::from_mode(0o4755)).unwrap();
    // A zero-length value, written offline (setxattr refuses it), on its own nosuid mount.
    let (_bad_fs, bad) = offline_file(&[], "nosuid");

    let amb = Caller {
        amb: RAW,
        ..nobody()
    };
    let got = assert_same(&amb, &ep, "a capped file on a nosuid tmpfs");
    assert_eq!((got.permitted, got.ambient), (RAW, RAW), "ambient is kept");
    assert_same(&nobody(), &ep, "a capped file on a nosuid tmpfs");
    let got = assert_same(&nobody(), &suid, "a setuid-root file on a nosuid tmpfs");
    assert_eq!(got.permitted, 0);
    // Neither EPERM nor EINVAL: the value is not even read.
    assert_eq!(
        assert_same(&root(), &sysres, "nosuid sys_resource").exec,
        "ok"
    );
    assert_eq!(assert_same(&root(), &bad, "nosuid empty value").exec, "ok");
    assert!(codes(&json_for(&amb, &ep)).contains(&"nosuid".to_string()));
}

#[test]
fn script_caps_are_ignored_and_the_interpreter_counts() {
    require_root();
    let d = tempdir();
    let plain = copy_cat(d.path(), "interp");
    let capped = copy_cat(d.path(), "interp-capped");
    libcap(&["cap_net_bind_service=ep"], &capped);
    let script = |name: &str, interp: &Path| {
        let p = d.path().join(name);
        write_exec(&p, format!("#!{}\n", interp.display()).as_bytes());
        p
    };
    let s1 = script("capped-script", &plain);
    libcap(&["cap_net_bind_service=ep"], &s1);
    let got = assert_same(&nobody(), &s1, "a capped script with a plain interpreter");
    assert_eq!(got.permitted, 0, "the script's own caps do nothing");
    let v = json_for(&nobody(), &s1);
    assert_eq!(v["interpreter"], plain.to_str().unwrap());
    assert!(codes(&v).contains(&"script".to_string()));
    // Ambient passes through the capped script to the plain interpreter (X3).
    let amb = Caller {
        amb: NBS,
        ..nobody()
    };
    assert_eq!(
        assert_same(&amb, &s1, "ambient through a capped script").ambient,
        NBS
    );

    let s2 = script("plain-script", &capped);
    let got = assert_same(&nobody(), &s2, "a plain script with a capped interpreter");
    assert_eq!(got.effective, NBS);
    // A script of a script, and an interpreter the bounding set cannot satisfy.
    let s3 = script("script-of-script", &s2);
    assert_eq!(
        assert_same(&nobody(), &s3, "a nested script").effective,
        NBS
    );
    let dropped = Caller {
        drop: NBS,
        ..nobody()
    };
    assert_eq!(
        assert_same(&dropped, &s3, "nested script, dropped cap").exec,
        "eperm"
    );
}

#[test]
fn foreign_rootid_is_ignored() {
    require_root();
    let d = tempdir();
    let f = copy_cat(d.path(), "ns");
    libcap(&["-n", "1000", "cap_net_bind_service=ep"], &f);
    assert_eq!(
        raw_xattr(&f).unwrap().len(),
        24,
        "setcap -n writes a v3 value"
    );
    assert_eq!(
        assert_same(&nobody(), &f, "a v3 value, rootid 1000").permitted,
        0
    );
    let amb = Caller {
        amb: RAW,
        ..nobody()
    };
    assert_eq!(assert_same(&amb, &f, "a v3 value and ambient").ambient, RAW);
    assert_same(&root(), &f, "a v3 value run by root");
    let v = json_for(&nobody(), &f);
    assert!(codes(&v).contains(&"foreign-rootid".to_string()), "{v}");
}

#[test]
fn zero_length_value_fails_with_einval() {
    require_root();
    // Written offline: this kernel refuses a zero-length value through setxattr.
    let (_fs, f) = offline_file(&[], "");
    assert_eq!(real(&nobody(), &f).exec, "einval");
    assert_eq!(real(&root(), &f).exec, "einval");
    // getxattr hides it exactly as it hides values exec honours (below): unknown.
    assert_eq!(predicted(&nobody(), &f).exec, "unknown");
    let r = fcap_run([os("verify"), f.as_os_str()]);
    r.status(1);
    assert!(
        r.stdout().contains("exec:        unknown"),
        "{}",
        r.stdout()
    );
}

/// Values the kernel honours at exec but will not return through getxattr (a v1
/// value; a v2 value with unknown flag bits), written offline: the real exec grants
/// cap_net_raw, so verify must say "unknown" (never a refusal), name the cause, and
/// fail a --require (issue 11 item 5).
#[test]
fn values_the_kernel_hides_are_unknown_not_refused() {
    let v1: &[u8] = &[1, 0, 0, 1, 0, 0x20, 0, 0, 0, 0, 0, 0];
    let mut v2x = vec![0x11, 0, 0, 2, 0, 0x20, 0, 0];
    v2x.extend([0; 12]);
    let file = |name, value| OfflineFile {
        name,
        src: Path::new("/bin/cat"),
        mode: 0o755,
        owner: (0, 0),
        value: Some(value),
    };
    let fs = OfflineFs::new(&[file("v1", v1), file("v2x", &v2x)], "");
    for name in ["v1", "v2x"] {
        let f = fs.path(name);
        let got = real(&nobody(), &f);
        assert_eq!(
            (got.exec.as_str(), got.permitted),
            ("ok", RAW),
            "{name}: the kernel grants it"
        );
        let v = json_for(&nobody(), &f);
        assert_eq!(v["exec"], "unknown", "{name}: {v}");
        assert!(
            codes(&v).contains(&"hidden-xattr".to_string()),
            "{name}: {v}"
        );
        fcap_run([
            os("verify"),
            os("--user"),
            os("nobody"),
            os("--require"),
            os("net_raw"),
            f.as_os_str(),
        ])
        .status(1);
        fcap_run([os("read"), f.as_os_str()])
            .status(2)
            .stderr_has("may still grant capabilities");
    }
}

#[test]
fn this_machines_bounding_set_decides_an_all_caps_file() {
    require_root();
    let d = tempdir();
    let f = copy_cat(d.path(), "all");
    libcap(&["=ep"], &f);
    let bounding = this_bounding();
    let full = CapSet::all().0;
    let want = if bounding == full { "ok" } else { "eperm" };
    let got = assert_same(&root(), &f, "'=ep' run by root");
    assert_eq!(got.exec, want, "bounding set {bounding:#x}");
    // This process as the caller (no options): a direct exec from here.
    let direct = match Command::new(&f).arg("/dev/null").output() {
        Ok(o) => {
            assert!(o.status.success());
            "ok".to_string()
        }
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => "eperm".to_string(),
        Err(e) => panic!("exec of {}: {e}", f.display()),
    };
    let v = predicted_json(&["verify".into(), "--json".into(), f.to_str().unwrap().into()]);
    assert_eq!(v["caller"]["source"], "this process");
    assert_eq!(v["exec"], direct.as_str());
    assert_eq!(v["exec"], want);
    if bounding != full {
        let missing: Vec<String> = v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["code"] == "bounding-eperm")
            .map(|r| r["cap"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(missing, CapSet(full & !bounding).names());
    }
}

// ---------------------------------------------------------------------------
// Profiles, --pid, --require, output and exit codes.

#[test]
fn profiles_match_the_equivalent_real_callers() {
    require_root();
    let d = tempdir();
    let f = copy_cat(d.path(), "nbs");
    libcap(&["cap_net_bind_service=ep"], &f);
    let g = copy_cat(d.path(), "admin");
    libcap(&["cap_net_bind_service,cap_sys_admin=ep"], &g);
    let all = this_bounding();
    let docker: u64 = fcap::verify::caller::DOCKER_DEFAULT
        .iter()
        .fold(0, |a, c| a | 1 << c);
    // k8s-restricted is checked against runc (runtime::k8s_restricted_profile_*):
    // its permitted set comes from the runtime, not from an exec.
    let dock_root = Caller {
        drop: all & !docker,
        ..root()
    };
    for (caller, profile, user, file) in [
        (&dock_root, "docker", "0", &f),
        (&dock_root, "docker", "0", &g),
    ] {
        let want = real(caller, file);
        let v = predicted_json(&[
            "verify".into(),
            "--json".into(),
            "--profile".into(),
            profile.into(),
            "--user".into(),
            user.into(),
            file.to_str().unwrap().into(),
        ]);
        assert_eq!(
            v["exec"],
            want.exec.as_str(),
            "{profile} {}: {v}",
            file.display()
        );
        if want.exec == "ok" {
            assert_eq!(names_to_bits(&v["permitted"]), want.permitted, "{profile}");
            assert_eq!(names_to_bits(&v["effective"]), want.effective, "{profile}");
        }
    }
    // The issue's CI gate: non-root in Docker gets nothing from --cap-add alone, but a
    // capped binary does bind.
    let plain = copy_cat(d.path(), "plain");
    let gate = |file: &Path| {
        fcap_run([
            os("verify"),
            file.as_os_str(),
            os("--user"),
            os("nobody"),
            os("--profile"),
            os("docker"),
            os("--require"),
            os("net_bind_service"),
        ])
    };
    gate(&f).status(0);
    let r = gate(&plain);
    r.status(1);
    assert!(
        r.stdout().contains("NOT met: cap_net_bind_service"),
        "{}",
        r.stdout()
    );
    fcap_run([
        os("verify"),
        f.as_os_str(),
        os("--profile"),
        os("k8s-restricted"),
        os("--user"),
        os("0"),
    ])
    .status(2)
    .stderr_has("non-root");
}

#[test]
fn pid_reads_a_running_process() {
    let d = tempdir();
    let f = copy_cat(d.path(), "plain");
    require_tool("capsh");
    // A shell of nobody with cap_net_raw ambient, waiting.
    let mut child = Command::new("capsh")
        .args([
            "--inh=cap_net_raw",
            "--keep=1",
            "--gid=65534",
            "--groups=",
            "--uid=65534",
            "--addamb=cap_net_raw",
            "--shell=/bin/sh",
            "--",
            "-c",
            "exec sleep 60",
        ])
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    // Wait until the sleep has replaced capsh and the shell.
    let mut v = serde_json::Value::Null;
    for _ in 0..200 {
        v = predicted_json(&[
            "verify".into(),
            "--json".into(),
            "--pid".into(),
            pid.clone(),
            f.to_str().unwrap().into(),
        ]);
        if v["caller"]["uid"] == 65534
            && v["caller"]["permitted"] == serde_json::json!(["cap_net_raw"])
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(v["caller"]["source"], format!("process {pid}"));
    assert_eq!(
        v["caller"]["ambient"],
        serde_json::json!(["cap_net_raw"]),
        "{v}"
    );
    let want = real(
        &Caller {
            amb: RAW,
            ..nobody()
        },
        &f,
    );
    assert_eq!(names_to_bits(&v["permitted"]), want.permitted);
    assert_eq!(names_to_bits(&v["ambient"]), want.ambient);
}

#[test]
fn json_has_every_documented_field() {
    let d = tempdir();
    let f = copy_cat(d.path(), "plain");
    let link = d.path().join("link");
    std::os::unix::fs::symlink(&f, &link).unwrap();
    let v = predicted_json(&[
        "verify".into(),
        "--json".into(),
        "--user".into(),
        "nobody".into(),
        link.to_str().unwrap().into(),
    ]);
    for key in [
        "exec",
        "permitted",
        "effective",
        "inheritable",
        "ambient",
        "bounding",
        "secure_exec",
        "file",
        "interpreter",
        "caller",
        "reasons",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["symlink_target"], f.to_str().unwrap());
    assert_eq!(v["interpreter"], serde_json::Value::Null);
    assert_eq!(v["caller"]["user"], "nobody");
    assert!(
        v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["code"].is_string() && r["message"].is_string())
    );
}

#[test]
fn human_output_explains_and_colours_only_when_asked() {
    require_root();
    let d = tempdir();
    let f = copy_cat(d.path(), "nbs");
    libcap(&["cap_net_bind_service=ep"], &f);
    let r = fcap_run([
        os("verify"),
        f.as_os_str(),
        os("--user"),
        os("nobody"),
        os("--drop"),
        os("net_bind_service"),
    ]);
    r.status(1);
    let out = r.stdout();
    for want in [
        "file caps:   cap_net_bind_service=ep",
        "caller:      a new process of user nobody (uid 65534)",
        "exec:        fails with EPERM (Operation not permitted)",
        "why:",
        "cap_net_bind_service is in the file's permitted set with the effective bit on",
        "hints:",
        "clear only the effective bit",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(!out.contains('\x1b'), "no colour when not asked");
    let r = fcap_run([os("--color"), os("always"), os("verify"), f.as_os_str()]);
    assert!(r.stdout().contains('\x1b'));
    let r = fcap_run([os("verify"), f.as_os_str(), os("--user"), os("nobody")]);
    r.ok();
    let out = r.stdout();
    assert!(out.contains("permitted:   cap_net_bind_service\n"), "{out}");
    assert!(out.contains("secure exec: yes (AT_SECURE)"), "{out}");
    assert!(out.contains("NODE_OPTIONS"), "{out}");
}

#[test]
fn errors_exit_2() {
    fcap_run(["verify", "/nonexistent/fcap-verify"])
        .status(2)
        .stderr_is("fcap: '/nonexistent/fcap-verify': No such file or directory\n");
    fcap_run(["verify", "/bin/sh", "--user", "no-such-user-fcap"])
        .status(2)
        .stderr_has("unknown user 'no-such-user-fcap'");
    fcap_run(["verify", "/bin/sh", "--drop", "net_bnd_service"]).status(2);
    fcap_run(["verify", "/bin/sh", "--pid", "999999999"])
        .status(2)
        .stderr_has("no process");
    fcap_run(["verify", "/bin/sh", "--pid", "1", "--user", "root"]).status(2);
}

#[test]
fn noexec_mount_fails_with_eacces() {
    require_root();
    let d = tempdir();
    let guard = mount_tmpfs(d.path(), "mode=755,noexec");
    let mnt = guard.0.clone();
    let f = copy_cat(&mnt, "ep");
    libcap(&["cap_net_bind_service=ep"], &f);
    assert_eq!(
        assert_same(&root(), &f, "a file on a noexec mount").exec,
        "eacces"
    );
    assert!(codes(&json_for(&root(), &f)).contains(&"noexec".to_string()));
}

#[test]
fn interpreter_chains_end_in_enoent_or_eloop_like_the_kernel() {
    let d = tempdir();
    let write_script = |name: &str, interp: &str| {
        let p = d.path().join(name);
        write_exec(&p, format!("#!{interp}\n").as_bytes());
        p
    };
    let gone = write_script("gone", "/nonexistent/fcap-interpreter");
    assert_eq!(
        assert_same(&nobody(), &gone, "a missing interpreter").exec,
        "enoent"
    );
    // Five '#!' levels above an ELF file run; six do not.
    let mut prev = copy_cat(d.path(), "elf");
    let mut levels = Vec::new();
    for i in 0..6 {
        prev = write_script(&format!("s{i}"), prev.to_str().unwrap());
        levels.push(prev.clone());
    }
    assert_eq!(assert_same(&nobody(), &levels[4], "five levels").exec, "ok");
    assert_eq!(
        assert_same(&nobody(), &levels[5], "six levels").exec,
        "eloop"
    );
    // Six levels whose last interpreter is missing (or not executable): the kernel
    // opens it before it counts the level, so ENOENT (EACCES), not ELOOP.
    for (name, last) in [("gone", "/nonexistent/fcap-interpreter"), ("dir", "/tmp")] {
        let mut prev = write_script(&format!("{name}-0"), last);
        for i in 1..6 {
            prev = write_script(&format!("{name}-{i}"), prev.to_str().unwrap());
        }
        let want = if name == "gone" { "enoent" } else { "eacces" };
        assert_eq!(
            assert_same(
                &nobody(),
                &prev,
                &format!("six levels, the sixth interpreter {name}")
            )
            .exec,
            want
        );
    }
}

#[test]
fn untrusted_tracer_read_from_pid_matches_a_real_traced_exec() {
    require_root();
    let d = tempdir();
    let f = copy_cat(d.path(), "ep");
    libcap(&["cap_net_bind_service=ep"], &f);
    let as_nobody = |script: &str, arg: &Path| {
        let mut c = Command::new("capsh");
        c.args([
            "--keep=1",
            "--gid=65534",
            "--groups=",
            "--uid=65534",
            "--shell=/bin/sh",
            "--",
            "-c",
            script,
        ])
        .arg(arg);
        c
    };
    // A sleep traced by nobody's strace: the tracer lacks CAP_SYS_PTRACE.
    require_tool("capsh");
    require_tool("strace");
    let mut tracer = as_nobody("exec strace -o /dev/null sleep 60", &f)
        .spawn()
        .unwrap();
    let children = format!("/proc/{0}/task/{0}/children", tracer.id());
    let mut traced = String::new();
    for _ in 0..200 {
        traced = std::fs::read_to_string(&children)
            .unwrap_or_default()
            .trim()
            .to_string();
        if !traced.is_empty()
            && std::fs::read_to_string(format!("/proc/{traced}/comm"))
                .is_ok_and(|c| c.trim() == "sleep")
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let v = predicted_json(&[
        "verify".into(),
        "--json".into(),
        "--pid".into(),
        traced.clone(),
        f.to_str().unwrap().into(),
    ]);
    tracer.kill().unwrap();
    tracer.wait().unwrap();
    let _ = Command::new("kill").arg(&traced).status();
    assert_eq!(v["caller"]["untrusted_tracer"], true, "{v}");
    // The same exec for real, traced by nobody's strace (spec E9 P3).
    let r = run(as_nobody(
        "exec strace -o /dev/null \"$0\" /proc/self/status",
        &f,
    ));
    r.ok();
    let want = parse_output(&r.out.stdout);
    assert_eq!(v["exec"], "ok");
    assert_eq!(names_to_bits(&v["permitted"]), want.permitted);
    assert_eq!(names_to_bits(&v["effective"]), want.effective);
    assert_eq!(want.permitted, 0, "an untrusted tracer gets no file caps");
    assert!(codes(&v).contains(&"ptrace".to_string()), "{v}");
}

#[test]
fn real_root_with_another_euid_read_from_pid_matches_the_kernel() {
    require_root();
    let d = tempdir();
    let plain = copy_cat(d.path(), "plain");
    let ep = copy_cat(d.path(), "ep");
    libcap(&["cap_net_bind_service=ep"], &ep);
    // uid 0, euid 65534 (spec E2 R5/R6): permitted = bounding, effective empty.
    require_tool("setpriv");
    let mut sleeper = Command::new("setpriv")
        .args(["--euid=65534", "sleep", "60"])
        .spawn()
        .unwrap();
    let pid = sleeper.id().to_string();
    let ask = |file: &Path| {
        predicted_json(&[
            "verify".into(),
            "--json".into(),
            "--pid".into(),
            pid.clone(),
            file.to_str().unwrap().into(),
        ])
    };
    let mut v = ask(&plain);
    for _ in 0..200 {
        if v["caller"]["euid"] == NOBODY {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        v = ask(&plain);
    }
    let w = ask(&ep);
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    assert_eq!(
        (v["caller"]["uid"].as_u64(), v["caller"]["euid"].as_u64()),
        (Some(0), Some(65534)),
        "{v}"
    );
    for (v, file) in [(&v, &plain), (&w, &ep)] {
        let r = run({
            let mut c = Command::new("setpriv");
            // -p: dash would otherwise reset its euid to the real uid (0).
            c.args([
                "--euid=65534",
                "sh",
                "-p",
                "-c",
                "LD_SHOW_AUXV=1 exec \"$0\" /proc/self/status",
            ])
            .arg(file);
            c
        });
        r.ok();
        let want = parse_output(&r.out.stdout);
        assert_eq!(
            names_to_bits(&v["permitted"]),
            want.permitted,
            "{}",
            file.display()
        );
        assert_eq!(
            names_to_bits(&v["effective"]),
            want.effective,
            "{}",
            file.display()
        );
        assert_eq!(
            v["secure_exec"].as_bool(),
            want.secure,
            "{}",
            file.display()
        );
    }
    assert_eq!(
        names_to_bits(&v["effective"]),
        0,
        "no effective bit: nothing effective"
    );
    assert_eq!(
        names_to_bits(&w["effective"]),
        this_bounding(),
        "effective bit: all of it"
    );
}

#[test]
fn dots_in_a_path_are_not_reported_as_a_symlink() {
    let d = tempdir();
    let f = copy_cat(d.path(), "prog");
    let sub = d.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let dotted = sub.join("..").join(".").join("prog");
    let v = predicted_json(&[
        "verify".to_string(),
        dotted.to_str().unwrap().to_string(),
        "--json".to_string(),
    ]);
    assert_eq!(v["symlink_target"], serde_json::Value::Null, "{v}");
    let link = d.path().join("link");
    std::os::unix::fs::symlink(&f, &link).unwrap();
    let v = predicted_json(&[
        "verify".to_string(),
        link.to_str().unwrap().to_string(),
        "--json".to_string(),
    ]);
    assert_eq!(v["symlink_target"], f.to_str().unwrap(), "{v}");
}

#[test]
fn profile_then_explicit_bounding_in_the_same_order_for_pid_and_user() {
    let d = tempdir();
    let f = copy_cat(d.path(), "prog");
    let pid = std::process::id().to_string();
    let fp = f.to_str().unwrap().to_string();
    let bounding = |who: &[&str]| {
        let mut a: Vec<String> = vec!["verify".into(), fp.clone(), "--json".into()];
        a.extend(who.iter().map(|s| s.to_string()));
        a.extend(["--profile", "docker", "--bounding", "cap_kill"].map(String::from));
        predicted_json(&a)["bounding"].clone()
    };
    let want = serde_json::json!(["cap_kill"]);
    assert_eq!(bounding(&["--pid", &pid]), want);
    assert_eq!(bounding(&["--user", "0"]), want);
}

/// verify never reads a file that can block or lose data: /proc/kmsg named directly or
/// as a `#!` interpreter, and a fifo as the interpreter (issue 11 item 3). Each run is
/// bounded, and strace shows /proc/kmsg is never opened.
#[test]
fn verify_never_opens_proc_kmsg_or_a_fifo_on_the_chain() {
    require_root();
    require_tool("strace");
    let d = tempdir();
    let fifo = d.path().join("fifo");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    let via_kmsg = d.path().join("via-kmsg");
    write_exec(&via_kmsg, b"#!/proc/kmsg\n");
    let via_fifo = d.path().join("via-fifo");
    write_exec(&via_fifo, format!("#!{}\n", fifo.display()).as_bytes());
    for target in [Path::new("/proc/kmsg"), &via_kmsg, &via_fifo] {
        let trace = d.path().join("trace");
        let mut c = Command::new("strace");
        c.args(["-f", "-e", "trace=openat,open", "-o"])
            .arg(&trace)
            .arg(env!("CARGO_BIN_EXE_fcap"))
            .args(["verify", "--json"])
            .arg(target);
        let r = run_bounded(c);
        assert!(
            r.stdout().contains("\"exec\""),
            "verify {} answered: {}{}",
            target.display(),
            r.stdout(),
            r.stderr()
        );
        let t = std::fs::read_to_string(&trace).unwrap();
        for never in ["\"/proc/kmsg\"", &format!("\"{}\"", fifo.display())] {
            assert!(
                !t.lines().any(|l| l.contains(never)),
                "verify {} opened {never}:\n{t}",
                target.display()
            );
        }
    }
}

/// `--pid` checks exec permission with the process's fs uid (the 4th `Uid:` field), as
/// the kernel does, not its euid (issue 11 item 10). A root process that called
/// setfsuid(65534) cannot exec a 0700 root-owned file: the fs-uid change also dropped
/// CAP_DAC_OVERRIDE from its effective set. verify --pid must say EACCES, and the same
/// process then really tries the exec.
#[test]
fn pid_permission_checks_use_the_fs_uid() {
    require_root();
    require_tool("python3");
    let d = tempdir();
    let f = copy_cat(d.path(), "rootonly");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o700)).unwrap();
    // setfsuid, report ready, wait for a line, then exec and report the errno.
    let script = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.setfsuid(65534)
print("ready", flush=True)
sys.stdin.readline()
try:
    os.execv(sys.argv[1], [sys.argv[1], "/dev/null"])
except OSError as e:
    print("errno", e.errno, flush=True)
"#;
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(&f)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    let pid = child.id().to_string();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.ends_with("65534")),
        "setfsuid did not take: {status}"
    );
    let v = predicted_json(&[
        "verify".into(),
        "--json".into(),
        "--pid".into(),
        pid,
        f.to_str().unwrap().into(),
    ]);
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    child.wait().unwrap();
    assert_eq!(
        rest.trim(),
        format!("errno {}", libc::EACCES),
        "the real exec"
    );
    assert_eq!(v["exec"], "eacces", "{v}");
}

/// An executable verify may not read (mode 0711) is "unknown" when verify runs as a
/// user who cannot read it, because an ELF program and a `#!` script with the same
/// capabilities give different answers; root reads both and answers each (issue 11
/// item 9).
#[test]
fn an_unreadable_executable_is_unknown_unless_verify_may_read_it() {
    require_root();
    let d = tempdir();
    let elf = copy_cat(d.path(), "elf");
    let script = d.path().join("script");
    write_exec(&script, b"#!/bin/cat\n");
    for f in [&elf, &script] {
        libcap(&["cap_net_raw=ep"], f);
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    // The kernel runs both for nobody; only the ELF's capabilities count.
    assert_eq!(real(&nobody(), &elf).permitted, RAW);
    for f in [&elf, &script] {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_fcap"))
            .args(["verify", "--json"])
            .arg(f);
        let r = run(c);
        let v: serde_json::Value = serde_json::from_str(&r.stdout())
            .unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout(), r.stderr()));
        assert_eq!(v["exec"], "unknown", "{v}");
        assert!(codes(&v).contains(&"unreadable-content".to_string()), "{v}");
    }
    // Root may read them: the ELF gets its capability, the script's are ignored.
    assert_eq!(json_for(&nobody(), &elf)["exec"], "ok");
    assert_eq!(names_to_bits(&json_for(&nobody(), &elf)["permitted"]), RAW);
    assert!(codes(&json_for(&nobody(), &script)).contains(&"script".to_string()));
}

/// The `#!` lines binfmt_script refuses, each exec'd for real (issue 11 item 11): an
/// interpreter name cut off by the 256-byte buffer (no newline in it) and a buffer
/// of blanks are ENOEXEC; a short file of only `#!` (and blanks) is EACCES.
#[test]
fn shebang_lines_the_kernel_refuses_match_the_kernel() {
    require_root();
    let d = tempdir();
    let mut cut = b"#!/".to_vec();
    cut.extend([b'a'; 300]);
    cut.push(b'\n');
    let mut blanks = b"#!".to_vec();
    blanks.extend([b' '; 300]);
    let shapes: [(&str, &[u8], &str); 4] = [
        ("cut", &cut, "enoexec"),
        ("blanks", &blanks, "enoexec"),
        ("only", b"#!", "eacces"),
        ("blank", b"#! \t", "eacces"),
    ];
    // A shell would run an ENOEXEC file as a script itself, so the real exec is a
    // bare execv as nobody, which reports its errno.
    let exec_as_nobody = r#"
import os, sys
os.setgroups([]); os.setgid(65534); os.setuid(65534)
try:
    os.execv(sys.argv[1], [sys.argv[1]])
except OSError as e:
    print(e.errno)
"#;
    for (name, body, errno) in shapes {
        let f = d.path().join(name);
        write_exec(&f, body);
        let mut c = Command::new("/usr/bin/python3");
        c.args(["-c", exec_as_nobody]).arg(&f);
        let real: i32 = run(c).ok().stdout().trim().parse().unwrap();
        let want = match real {
            libc::ENOEXEC => "enoexec",
            libc::EACCES => "eacces",
            e => panic!("{name}: unexpected errno {e}"),
        };
        assert_eq!(want, errno, "{name}: the kernel");
        let v = fcap_run([
            os("verify"),
            os("--user"),
            os("nobody"),
            os("--json"),
            f.as_os_str(),
        ]);
        let v: serde_json::Value = serde_json::from_str(&v.stdout()).unwrap();
        assert_eq!(v["exec"], want, "{name}: {v}");
    }
}

/// Run `file` with a bare `execv` as nobody (a shell would run an ENOEXEC file as a
/// script itself) and return the errno, or 0 when the exec succeeded.
fn bare_exec_as_nobody(file: &Path) -> i32 {
    let script = r#"
import os, sys
os.setgroups([]); os.setgid(65534); os.setuid(65534)
try:
    os.execv(sys.argv[1], [sys.argv[1], "/dev/null"])
except OSError as e:
    print(e.errno)
"#;
    let mut c = Command::new("/usr/bin/python3");
    c.args(["-c", script]).arg(file);
    let r = run(c);
    r.stdout().trim().parse().unwrap_or(0)
}

fn errno_code(e: i32) -> String {
    if e == 0 {
        "ok".into()
    } else {
        fcap::error::errno_name(e).to_lowercase()
    }
}

/// Where PT_INTERP is in a 64-bit ELF: the program header's offset in the file.
fn interp_phdr(elf: &[u8]) -> usize {
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[32..40].try_into().unwrap()) as usize;
    (0..u16_at(56))
        .map(|i| phoff + i * u16_at(54))
        .find(|o| elf[*o..*o + 4] == 3u32.to_le_bytes())
        .expect("a dynamically linked /bin/cat")
}

/// `/bin/cat` with its program loader renamed: the new name is appended to the file
/// and PT_INTERP pointed at it, so any path length fits.
fn with_loader(src: &[u8], loader: &[u8]) -> Vec<u8> {
    let mut e = src.to_vec();
    let ph = interp_phdr(&e);
    let at = e.len() as u64;
    e.extend(loader);
    e.push(0);
    e[ph + 8..ph + 16].copy_from_slice(&at.to_le_bytes());
    e[ph + 32..ph + 40].copy_from_slice(&(loader.len() as u64 + 1).to_le_bytes());
    e
}

/// ELF programs the kernel's ELF loader refuses before any capability is computed,
/// and program loaders (PT_INTERP) it cannot open or use, each exec'd for real as
/// nobody (issue 11 item 4). verify must give the kernel's errno, and an ELF the
/// loader accepts (class byte ignored, a loader nobody may execute but not read)
/// must still be "ok".
#[test]
fn elf_programs_and_loaders_match_the_kernel() {
    require_root();
    require_tool("python3");
    let d = tempdir();
    let cat = std::fs::read("/bin/cat").unwrap();
    let ld_path = {
        let ph = interp_phdr(&cat);
        let off = u64::from_le_bytes(cat[ph + 8..ph + 16].try_into().unwrap()) as usize;
        let len = u64::from_le_bytes(cat[ph + 32..ph + 40].try_into().unwrap()) as usize;
        PathBuf::from(std::str::from_utf8(&cat[off..off + len - 1]).unwrap())
    };
    let ld = std::fs::read(&ld_path).unwrap();
    let noexec = mount_tmpfs(d.path(), "mode=755,noexec");
    let loader = |name: &str, bytes: &[u8], mode: u32| {
        let p = d.path().join(name);
        write_exec(&p, bytes);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    };
    let ld0700 = loader("ld0700", &ld, 0o700);
    let ld0711 = loader("ld0711", &ld, 0o711);
    let ld_text = loader("ld-text", &[b'x'; 100], 0o755);
    let ld_short = loader("ld-short", &ld[..40], 0o755);
    let mut arm = ld.clone();
    arm[18..20].copy_from_slice(&183u16.to_le_bytes());
    let ld_arm = loader("ld-arm", &arm, 0o755);
    let ld_noexec = noexec.0.join("ld");
    write_exec(&ld_noexec, &ld);
    let path_of = |p: &Path| p.as_os_str().as_encoded_bytes().to_vec();

    let patch = |at: usize, b: &[u8]| {
        let mut e = cat.clone();
        e[at..at + b.len()].copy_from_slice(b);
        e
    };
    let ph = interp_phdr(&cat);
    let interp_off = u64::from_le_bytes(cat[ph + 8..ph + 16].try_into().unwrap()) as usize;
    let mut no_nul = cat.clone();
    let interp_len = u64::from_le_bytes(cat[ph + 32..ph + 40].try_into().unwrap()) as usize;
    no_nul[interp_off + interp_len - 1] = b'x';
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("machine", patch(18, &183u16.to_le_bytes()), "enoexec"),
        ("relocatable", patch(16, &1u16.to_le_bytes()), "enoexec"),
        ("phentsize", patch(54, &32u16.to_le_bytes()), "enoexec"),
        ("header-only", cat[..64].to_vec(), "enoexec"),
        ("interp-cut", cat[..interp_off + 4].to_vec(), "eio"),
        ("interp-no-nul", no_nul, "enoexec"),
        ("class32", patch(4, &[1]), "ok"),
        (
            "no-loader",
            with_loader(&cat, b"/lib/ld-musl-x86_64.so.1-fcap-test"),
            "enoent",
        ),
        (
            "loader-0700",
            with_loader(&cat, &path_of(&ld0700)),
            "eacces",
        ),
        ("loader-0711", with_loader(&cat, &path_of(&ld0711)), "ok"),
        (
            "loader-noexec",
            with_loader(&cat, &path_of(&ld_noexec)),
            "eacces",
        ),
        (
            "loader-dir",
            with_loader(&cat, &path_of(d.path())),
            "eacces",
        ),
        (
            "loader-text",
            with_loader(&cat, &path_of(&ld_text)),
            "elibbad",
        ),
        (
            "loader-short",
            with_loader(&cat, &path_of(&ld_short)),
            "eio",
        ),
        (
            "loader-arm",
            with_loader(&cat, &path_of(&ld_arm)),
            "elibbad",
        ),
    ];
    for (name, bytes, want) in cases {
        let f = d.path().join(name);
        write_exec(&f, &bytes);
        let real = errno_code(bare_exec_as_nobody(&f));
        assert_eq!(real, want, "{name}: the kernel");
        let v = json_for(&nobody(), &f);
        assert_eq!(v["exec"], want, "{name}: {v}");
        if name == "no-loader" {
            assert_eq!(v["loader"], "/lib/ld-musl-x86_64.so.1-fcap-test", "{v}");
            assert!(v["hints"].to_string().contains("program loader"), "{v}");
        }
    }
    // A capped program with a missing loader gains nothing: the exec fails first.
    let f = d.path().join("capped-no-loader");
    write_exec(&f, &with_loader(&cat, b"/nonexistent/ld.so"));
    libcap(&["cap_net_raw=ep"], &f);
    assert_eq!(
        assert_same(&nobody(), &f, "a capped program, loader missing").exec,
        "enoent"
    );
    assert_eq!(
        json_for(&nobody(), &copy_cat(d.path(), "plain"))["loader"],
        ld_path.to_str().unwrap()
    );
}

/// A noexec/nosuid mount hidden by a fresh mount over its parent is not the file's
/// mount: the kernel runs the file and grants its capabilities, so verify must find
/// the mount by the file's own mount ID, not by the longest path prefix (issue 11
/// item 6).
#[test]
fn a_mount_hidden_by_an_over_mount_is_not_used() {
    require_root();
    let d = tempdir();
    let m1 = d.path().join("m1");
    std::fs::create_dir(&m1).unwrap();
    let mount = |opts: &str, at: &Path| {
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
            .arg(at)
            .status()
            .unwrap();
        assert!(st.success(), "mount {opts} {}", at.display());
        Mounted(at.to_path_buf())
    };
    let lower = mount("mode=755", &m1);
    std::fs::create_dir(m1.join("sub")).unwrap();
    let hidden = mount("mode=755,noexec,nosuid", &m1.join("sub"));
    let upper = mount("mode=755", &m1);
    std::fs::create_dir(m1.join("sub")).unwrap();
    std::fs::set_permissions(m1.join("sub"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let f = copy_cat(&m1.join("sub"), "prog");
    libcap(&["cap_net_raw=ep"], &f);
    let got = assert_same(
        &nobody(),
        &f,
        "a capped file over a hidden noexec,nosuid mount",
    );
    assert_eq!((got.exec.as_str(), got.permitted), ("ok", RAW));
    let v = json_for(&nobody(), &f);
    assert!(!codes(&v).contains(&"nosuid".to_string()), "{v}");
    // Unmount in reverse order (the guards would also do it on a failure).
    drop(upper);
    drop(hidden);
    drop(lower);
}

/// The exec errors of issue 11 item 11 that the `#!` and ELF tests do not cover, each
/// exec'd for real: a file some process has open for writing (ETXTBSY), a name longer
/// than PATH_MAX (ENAMETOOLONG), `./prog` from a working directory whose ancestor
/// nobody may not search (the kernel starts the lookup at the working directory and
/// runs it), and `/proc/PID/exe` of a deleted program (the kernel runs the inode, with
/// its capabilities).
#[test]
fn exec_edge_cases_match_the_kernel() {
    require_root();
    require_tool("python3");
    let d = tempdir();

    // ETXTBSY while a shell holds the file open for writing.
    let busy = copy_cat(d.path(), "busy");
    let mut holder = Command::new("sh")
        .arg("-c")
        .arg("exec 3>>\"$0\"; exec sleep 60")
        .arg(&busy)
        .spawn()
        .unwrap();
    let fd3 = format!("/proc/{}/fd/3", holder.id());
    for _ in 0..200 {
        if std::fs::read_link(&fd3).is_ok()
            && std::fs::read_to_string(format!("/proc/{}/comm", holder.id()))
                .is_ok_and(|c| c.trim() == "sleep")
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        errno_code(bare_exec_as_nobody(&busy)),
        "etxtbsy",
        "the kernel"
    );
    let v = json_for(&nobody(), &busy);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(v["exec"], "etxtbsy", "{v}");
    assert!(codes(&v).contains(&"text-busy".to_string()), "{v}");
    assert_eq!(
        json_for(&nobody(), &busy)["exec"],
        "ok",
        "the writer is gone"
    );

    // A name of more than PATH_MAX bytes, for a file that exists (built with
    // relative steps, since no absolute name reaches it).
    let mut c = Command::new("/usr/bin/python3");
    c.current_dir(d.path()).args([
        "-c",
        "import os, shutil\nfor _ in range(22):\n    os.mkdir('d' * 200, 0o755); os.chdir('d' * 200)\nshutil.copy('/bin/cat', 'prog'); os.chmod('prog', 0o755)",
    ]);
    run(c).ok();
    let mut long = d.path().to_path_buf();
    for _ in 0..22 {
        long.push("d".repeat(200));
    }
    long.push("prog");
    assert_eq!(
        errno_code(bare_exec_as_nobody(&long)),
        "enametoolong",
        "the kernel"
    );
    assert_eq!(json_for(&nobody(), &long)["exec"], "enametoolong");

    // ./prog from a working directory below a directory nobody may not search.
    let private = d.path().join("private");
    let cwd = private.join("pub");
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(&cwd, std::fs::Permissions::from_mode(0o755)).unwrap();
    let prog = copy_cat(&cwd, "prog");
    libcap(&["cap_net_raw=ep"], &prog);
    let mut c = Command::new("/usr/bin/python3");
    c.current_dir(&cwd).args([
        "-c",
        "import os\nos.setgroups([]); os.setgid(65534); os.setuid(65534)\nos.execv('./prog', ['./prog', '/proc/self/status'])",
    ]);
    let status = run(c).ok().stdout();
    assert_eq!(
        status
            .lines()
            .find_map(|l| l.strip_prefix("CapPrm:"))
            .map(str::trim),
        Some("0000000000002000"),
        "the kernel runs ./prog with its capability: {status}"
    );
    let mut c = fcap();
    c.current_dir(&cwd)
        .args(["verify", "--json", "--user", "nobody", "./prog"]);
    let v: serde_json::Value = serde_json::from_str(&run(c).stdout()).unwrap();
    assert_eq!(v["exec"], "ok", "{v}");
    assert_eq!(names_to_bits(&v["permitted"]), RAW, "{v}");

    // /proc/PID/exe of a program deleted while it runs (as nobody, who may follow the
    // link), capped after it started.
    let gone = copy_cat(d.path(), "deleted");
    let mut running = Command::new(&gone);
    std::os::unix::process::CommandExt::uid(&mut running, NOBODY);
    std::os::unix::process::CommandExt::gid(&mut running, NOBODY);
    let mut running = running.stdin(std::process::Stdio::piped()).spawn().unwrap();
    libcap(&["cap_net_raw=ep"], &gone);
    std::fs::remove_file(&gone).unwrap();
    let exe = PathBuf::from(format!("/proc/{}/exe", running.id()));
    let got = assert_same(
        &nobody(),
        &exe,
        "/proc/PID/exe of a deleted, capped program",
    );
    running.kill().unwrap();
    running.wait().unwrap();
    assert_eq!((got.exec.as_str(), got.permitted), ("ok", RAW));
}

/// Random `--pid` callers whose real, effective, saved and fs ids differ (set by
/// tests/it/id_caller.c with setresuid/setresgid, then setfsuid/setfsgid), against
/// files and directories of random owners and modes, named absolutely or relative to
/// the caller's working directory (half the time below a directory only root may
/// search), sometimes open for writing elsewhere: verify's prediction, read while the
/// caller waits, against the same process's real exec. `FCAP_FSID_SEED` replays a run, `FCAP_FSID_CASES` sets the
/// count.
#[test]
fn pid_callers_with_their_own_fs_ids_match_the_kernel() {
    require_root();
    let d = tempdir();
    let caller = build_c("id_caller", d.path());
    let holder = build_c("map_holder", d.path());
    let (seed, cases, mut rng) = random_run("FCAP_FSID", "fs id differential test", 60);
    let ids = [0u32, NOBODY, 4242];
    let (mut ok, mut denied) = (0, 0);
    for case in 0..cases {
        let top = d.path().join(format!("c{case}"));
        let dir = top.join("dir");
        std::fs::create_dir_all(&dir).unwrap();
        let prog = copy_cat(&dir, "prog");
        if rng.chance(40) {
            libcap(&["cap_net_raw=ep"], &prog);
        }
        let own = |rng: &mut SplitMix| (*rng.pick(&ids), *rng.pick(&ids));
        let (fu, fg) = own(&mut rng);
        let (du, dg) = own(&mut rng);
        let fmode = *rng.pick(&[
            0o700u32, 0o710, 0o701, 0o750, 0o705, 0o711, 0o755, 0o070, 0o007, 0o4755,
        ]);
        let dmode = *rng.pick(&[0o755u32, 0o700, 0o710, 0o701, 0o750, 0o705]);
        std::os::unix::fs::chown(&prog, Some(fu), Some(fg)).unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(fmode)).unwrap();
        std::os::unix::fs::chown(&dir, Some(du), Some(dg)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(dmode)).unwrap();
        let relative = rng.chance(50);
        if relative && rng.chance(50) {
            std::fs::set_permissions(&top, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let uids = [*rng.pick(&ids), *rng.pick(&ids), *rng.pick(&ids)];
        let gids = [*rng.pick(&ids), *rng.pick(&ids), *rng.pick(&ids)];
        let fsuid = *rng.pick(&uids);
        let fsgid = *rng.pick(&gids);
        let groups: Vec<String> = [0u32, 4242, 27]
            .iter()
            .filter(|_| rng.chance(30))
            .map(|g| g.to_string())
            .collect();
        let groups = if groups.is_empty() {
            "-".to_string()
        } else {
            groups.join(",")
        };
        let (cwd, path) = if relative {
            (dir.clone(), PathBuf::from("./prog"))
        } else {
            (d.path().to_path_buf(), prog.clone())
        };
        let mut c = Command::new(&caller);
        for v in uids.iter().chain([&fsuid]).chain(&gids).chain([&fsgid]) {
            c.arg(v.to_string());
        }
        c.arg(&groups).arg(&cwd).arg(&path);
        let mut child = c
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert_eq!(line.trim(), "ready", "id_caller did not set its ids");
        let pid = child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let want = format!("Uid:\t{}\t{}\t{}\t{fsuid}", uids[0], uids[1], uids[2]);
        assert!(
            status.contains(&want),
            "ids not as asked ({want}): {status}"
        );
        // Now and then another process writes to the file, by a descriptor or by a
        // shared mapping only.
        let writer = match rng.next() % 10 {
            0 => Some(Writer::hold(&prog)),
            1 => Some(Writer::map(&holder, &prog, "rw")),
            _ => None,
        };
        let what = format!(
            "case {case} (FCAP_FSID_SEED={seed}): uids {uids:?} fs {fsuid}, gids {gids:?} fs {fsgid}, groups {groups}; file {fu}:{fg} {fmode:o}, dir {du}:{dg} {dmode:o}, {} from {}, writer {}",
            path.display(),
            cwd.display(),
            writer.is_some()
        );
        let v = predicted_json(&[
            "verify".into(),
            "--json".into(),
            "--pid".into(),
            pid.to_string(),
            path.display().to_string(),
        ]);
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
        child.wait().unwrap();
        drop(writer);
        match rest.trim().strip_prefix("errno ") {
            Some(e) => {
                let code = errno_code(e.parse().unwrap());
                assert_eq!(v["exec"], code.as_str(), "{what}\n{v}");
                denied += 1;
            }
            None => {
                let seen = parse_output(rest.as_bytes());
                assert_eq!(v["exec"], "ok", "{what}\n{v}");
                assert_eq!(
                    (
                        names_to_bits(&v["permitted"]),
                        names_to_bits(&v["effective"])
                    ),
                    (seen.permitted, seen.effective),
                    "{what}\n{v}"
                );
                ok += 1;
            }
        }
        let _ = std::fs::set_permissions(&top, std::fs::Permissions::from_mode(0o755));
    }
    eprintln!("fs id differential test: {ok} ran, {denied} refused");
    if cases >= 40 {
        assert!(ok > 0 && denied > 0, "{ok} {denied}");
    }
}

/// Hold `file` open for writing in a child process until the guard drops.
struct Writer(std::process::Child);

impl Writer {
    /// A shell holding `file` open for writing.
    fn hold(file: &Path) -> Writer {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg("exec 3>>\"$0\"; echo ready; exec sleep 60")
            .arg(file);
        Writer::start(c)
    }

    /// `map_holder`: only a shared mapping keeps `file` open, read-write or read-only.
    fn map(holder: &Path, file: &Path, mode: &str) -> Writer {
        let mut c = Command::new(holder);
        c.arg(file).arg(mode);
        Writer::start(c)
    }

    fn start(mut c: Command) -> Writer {
        let child = c.stdout(std::process::Stdio::piped()).spawn().unwrap();
        let mut w = Writer(child);
        let mut line = String::new();
        let out = w.0.stdout.as_mut().unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        w
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// ETXTBSY comes from every file the exec opens to run: the `#!` interpreter and the
/// ELF program loader as well as the named file, each exec'd for real as nobody while
/// a process holds that one file open for writing, through a descriptor or only
/// through a shared mapping of a file it opened read-write (one opened read-only
/// does not count). And `./prog` from a working
/// directory below a directory nobody may not search, verified by fcap running as
/// nobody there: the kernel starts at the working directory, and so must verify.
#[test]
fn text_busy_on_interpreter_and_loader_and_a_cwd_below_a_private_directory() {
    require_root();
    require_tool("python3");
    require_tool("setpriv");
    let d = tempdir();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let interp = copy_cat(d.path(), "interp");
    let script = d.path().join("script");
    write_exec(&script, format!("#!{}\n", interp.display()).as_bytes());
    let ld = d.path().join("ld.so");
    cp(
        Path::new(&loader_of(&std::fs::read("/bin/cat").unwrap())),
        &ld,
    );
    let prog = d.path().join("prog");
    write_exec(
        &prog,
        &with_loader(
            &std::fs::read("/bin/cat").unwrap(),
            ld.as_os_str().as_encoded_bytes(),
        ),
    );
    for (busy, file, what) in [
        (&interp, &script, "the #! interpreter"),
        (&ld, &prog, "the program loader"),
        (&script, &script, "the script itself"),
    ] {
        assert_eq!(errno_code(bare_exec_as_nobody(file)), "ok", "{what}: idle");
        let w = Writer::hold(busy);
        assert_eq!(
            errno_code(bare_exec_as_nobody(file)),
            "etxtbsy",
            "{what}: the kernel"
        );
        let v = json_for(&nobody(), file);
        drop(w);
        assert_eq!(v["exec"], "etxtbsy", "{what}: {v}");
        assert!(codes(&v).contains(&"text-busy".to_string()), "{v}");
        assert_eq!(
            json_for(&nobody(), file)["exec"],
            "ok",
            "{what}: the writer is gone"
        );
    }

    let holder = build_c("map_holder", d.path());
    for (mode, want) in [("rw", "etxtbsy"), ("ro", "ok")] {
        let w = Writer::map(&holder, &interp, mode);
        assert_eq!(
            errno_code(bare_exec_as_nobody(&script)),
            want,
            "mapped {mode}: the kernel"
        );
        let v = json_for(&nobody(), &script);
        drop(w);
        assert_eq!(v["exec"], want, "mapped {mode}: {v}");
    }

    // fcap itself runs as nobody in a working directory it may not reach by name.
    let private = d.path().join("private");
    let cwd = private.join("pub");
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let p = copy_cat(&cwd, "prog");
    libcap(&["cap_net_raw=ep"], &p);
    let mut c = Command::new("setpriv");
    c.current_dir(&cwd)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_fcap"))
        .args(["verify", "--json", "./prog"]);
    let r = run(c);
    let v: serde_json::Value = serde_json::from_str(&r.stdout())
        .unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout(), r.stderr()));
    assert_eq!(v["exec"], "ok", "{v}");
    assert_eq!(names_to_bits(&v["permitted"]), RAW, "{v}");
    let mut c = Command::new("/usr/bin/python3");
    c.current_dir(&cwd).args([
        "-c",
        "import os\nos.setgroups([]); os.setgid(65534); os.setuid(65534)\nos.execv('./prog', ['./prog', '/proc/self/status'])",
    ]);
    let status = run(c).ok().stdout();
    assert_eq!(
        hex_field(&status, "CapPrm:"),
        Some(RAW),
        "the kernel: {status}"
    );
}
