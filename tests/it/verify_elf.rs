//! verify's model of the ELF loader against real execs: copies of `cat` with header
//! bytes changed, cut off, or pointing their `PT_INTERP` at a missing, foreign,
//! short, unexecutable or noexec-mounted interpreter, exec'd for real by nobody and by
//! root with a bare `execve` (a shell would run an ENOEXEC file as a script itself).
//!
//! Seeded like the main differential test: `FCAP_VERIFY_SEED` replays a run,
//! `FCAP_VERIFY_CASES` sets the number of cases (default 120; the first files go
//! through every variant once).

use crate::util::*;
use crate::verify::{
    Mounted, Observed, mount_tmpfs, names_to_bits, parse_output, this_bounding, v2,
};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `exec_as UID FILE`: drop to UID (unless 0), execve FILE with `/proc/self/status` as
/// its argument and `LD_SHOW_AUXV=1`, or print the errno.
const EXEC_AS: &str = r#"
import os, sys
uid = int(sys.argv[1])
if uid:
    os.setgroups([]); os.setgid(uid); os.setuid(uid)
try:
    os.execve(sys.argv[2], [sys.argv[2], "/proc/self/status"], {"LD_SHOW_AUXV": "1"})
except OSError as e:
    print("errno", e.errno)
"#;

fn errno_code(e: i32) -> String {
    match e {
        libc::EPERM => "eperm",
        libc::ENOENT => "enoent",
        libc::EIO => "eio",
        libc::ENOEXEC => "enoexec",
        libc::EACCES => "eacces",
        libc::EINVAL => "einval",
        libc::ERANGE => "erange",
        libc::ELOOP => "eloop",
        libc::ELIBBAD => "elibbad",
        _ => panic!("unexpected errno {e}"),
    }
    .to_string()
}

fn real(uid: u32, file: &Path, cwd: &Path) -> Observed {
    let mut c = Command::new("/usr/bin/python3");
    c.args(["-c", EXEC_AS])
        .arg(uid.to_string())
        .arg(file)
        .current_dir(cwd);
    let r = run(c);
    let out = r.stdout();
    if let Some(e) = out.trim().strip_prefix("errno ") {
        return Observed {
            exec: errno_code(e.parse().unwrap()),
            permitted: 0,
            effective: 0,
            ambient: 0,
            secure: None,
        };
    }
    assert_eq!(r.code(), 0, "{}: {}", r.cmd, r.stderr());
    parse_output(&r.out.stdout)
}

fn predicted(uid: u32, file: &Path, cwd: &Path) -> (Observed, serde_json::Value) {
    let mut c = fcap();
    c.args(["verify", "--json", "--user", &uid.to_string()])
        .arg(file)
        .current_dir(cwd);
    let r = run(c);
    assert!(r.code() <= 1, "{}: {}", r.cmd, r.stderr());
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    let ok = v["exec"] == "ok";
    let set = |k: &str| if ok { names_to_bits(&v[k]) } else { 0 };
    let o = Observed {
        exec: v["exec"].as_str().unwrap().to_string(),
        permitted: set("permitted"),
        effective: set("effective"),
        ambient: set("ambient"),
        secure: ok.then(|| v["secure_exec"].as_bool().unwrap()),
    };
    (o, v)
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Where `cat`'s program headers and PT_INTERP are.
struct Layout {
    phoff: usize,
    phnum: usize,
    /// The PT_INTERP program header, and the name's offset and size.
    interp_ph: usize,
    interp_off: usize,
    interp_len: usize,
}

fn layout(f: &[u8]) -> Layout {
    let phoff = le64(f, 32) as usize;
    let phnum = usize::from(le16(f, 56));
    let interp_ph = (0..phnum)
        .map(|i| phoff + 56 * i)
        .find(|o| f[*o..*o + 4] == 3u32.to_le_bytes())
        .expect("/bin/cat has a PT_INTERP");
    Layout {
        phoff,
        phnum,
        interp_ph,
        interp_off: le64(f, interp_ph + 8) as usize,
        interp_len: le64(f, interp_ph + 32) as usize,
    }
}

/// How a program differs from `cat`.
#[derive(Clone, Copy, Debug)]
enum Variant {
    Intact,
    /// EI_CLASS, EI_DATA, EI_VERSION or EI_OSABI changed (the kernel ignores them).
    Ident,
    Machine(u16),
    Type(u16),
    PhEntSize(u16),
    NoPhdrs,
    PhdrsPastEnd,
    /// Cut off inside the header or program header table.
    CutHeaders,
    CutInterpName,
    InterpNoNul,
    InterpSize(u64),
    /// PT_INTERP names this (relative to the test directory, or absolute in it).
    Loader(&'static str),
}

const VARIANTS: [(u64, Variant); 25] = [
    (24, Variant::Intact),
    (6, Variant::Ident),
    (3, Variant::Machine(183)),
    (2, Variant::Machine(3)),
    (2, Variant::Machine(0x3e00)),
    (3, Variant::Type(1)),
    (2, Variant::Type(4)),
    (3, Variant::PhEntSize(55)),
    (2, Variant::NoPhdrs),
    (2, Variant::PhdrsPastEnd),
    (4, Variant::CutHeaders),
    (3, Variant::CutInterpName),
    (3, Variant::InterpNoNul),
    (2, Variant::InterpSize(1)),
    (4, Variant::Loader("l1")),
    (3, Variant::Loader("l7")),
    (3, Variant::Loader("l6")),
    (4, Variant::Loader("ms")),
    (3, Variant::Loader("dr")),
    (3, Variant::Loader("tx")),
    (3, Variant::Loader("sh")),
    (3, Variant::Loader("ar")),
    (4, Variant::Loader("nx/l")),
    (4, Variant::Loader("ln")),
    (4, Variant::Loader("h/l")),
];

/// The interpreters the `Loader` variants name, made once: copies of the real
/// dynamic loader with other modes, behind a link, on a noexec mount, in a 0700
/// directory; and files that are not loaders at all.
fn make_loaders(d: &Path, ld: &Path) -> Mounted {
    let ld_bytes = std::fs::read(ld).unwrap();
    for (name, mode) in [("l5", 0o755), ("l1", 0o711), ("l7", 0o700), ("l6", 0o644)] {
        cp(ld, &d.join(name));
        std::fs::set_permissions(d.join(name), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::create_dir(d.join("dr")).unwrap();
    write_exec(&d.join("tx"), &b"not a loader\n".repeat(20));
    write_exec(&d.join("sh"), &ld_bytes[..40]);
    let mut arm = ld_bytes.clone();
    arm[18..20].copy_from_slice(&183u16.to_le_bytes());
    write_exec(&d.join("ar"), &arm);
    std::os::unix::fs::symlink(d.join("l5"), d.join("ln")).unwrap();
    std::fs::create_dir(d.join("h")).unwrap();
    cp(ld, &d.join("h/l"));
    std::fs::set_permissions(d.join("h"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let m = mount_tmpfs(d, "mode=755,noexec");
    cp(ld, &m.0.join("l"));
    std::fs::set_permissions(m.0.join("l"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(&m.0, d.join("nx")).unwrap();
    m
}

fn build(cat: &[u8], l: &Layout, v: Variant, d: &Path, rng: &mut SplitMix) -> Vec<u8> {
    let mut f = cat.to_vec();
    let put16 = |f: &mut Vec<u8>, at: usize, x: u16| {
        f[at..at + 2].copy_from_slice(&x.to_le_bytes());
    };
    let phend = l.phoff + 56 * l.phnum;
    match v {
        Variant::Intact => {}
        Variant::Ident => {
            let at = 4 + (rng.next() % 4) as usize;
            f[at] = rng.next() as u8;
        }
        Variant::Machine(m) => put16(&mut f, 18, m),
        Variant::Type(t) => put16(&mut f, 16, t),
        Variant::PhEntSize(s) => put16(&mut f, 54, s),
        Variant::NoPhdrs => put16(&mut f, 56, 0),
        Variant::PhdrsPastEnd => {
            let past = (cat.len() as u64 + 8).to_le_bytes();
            f[32..40].copy_from_slice(&past);
        }
        Variant::CutHeaders => f.truncate(4 + (rng.next() as usize) % (phend - 4)),
        Variant::CutInterpName => {
            f.truncate(l.interp_off + (rng.next() as usize) % (l.interp_len - 1));
        }
        Variant::InterpNoNul => f[l.interp_off + l.interp_len - 1] = b'x',
        Variant::InterpSize(s) => {
            f[l.interp_ph + 32..l.interp_ph + 40].copy_from_slice(&s.to_le_bytes())
        }
        Variant::Loader(name) => {
            // Half of them absolute, half relative to the caller's directory.
            let path = if name.contains('/') || rng.chance(50) {
                d.join(name)
            } else {
                PathBuf::from(name)
            };
            let bytes = path.as_os_str().as_encoded_bytes();
            assert!(
                bytes.len() < l.interp_len,
                "{} is longer than cat's PT_INTERP: use a shorter TMPDIR",
                path.display()
            );
            let slot = &mut f[l.interp_off..l.interp_off + l.interp_len];
            slot.fill(0);
            slot[..bytes.len()].copy_from_slice(bytes);
        }
    }
    f
}

#[test]
fn elf_headers_and_interpreters_match_the_kernel() {
    require_root();
    let (seed, cases, mut rng) = random_run("FCAP_VERIFY", "ELF differential test", 120);
    let cat = std::fs::read("/bin/cat").unwrap();
    let l = layout(&cat);
    let ld = PathBuf::from(
        std::str::from_utf8(&cat[l.interp_off..l.interp_off + l.interp_len - 1]).unwrap(),
    );
    let dir = tempdir();
    let d = dir.path();
    let _nx = make_loaders(d, &ld);
    // Capabilities in and out of the bounding set: with the effective bit, one outside
    // it is EPERM, which the ELF loader's errors come before.
    let pool: [u32; 4] = [0, 10, 13, 24];
    let bounding = this_bounding();
    let total_weight: u64 = VARIANTS.iter().map(|v| v.0).sum();
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    let mut done = 0;
    let mut k = 0;
    while done < cases {
        let variant = if k < VARIANTS.len() {
            VARIANTS[k].1
        } else {
            let mut pick = rng.next() % total_weight;
            VARIANTS
                .iter()
                .find(|v| {
                    let hit = pick < v.0;
                    pick = pick.saturating_sub(v.0);
                    hit
                })
                .map_or(Variant::Intact, |v| v.1)
        };
        let file = d.join(format!("p{k}"));
        write_exec(&file, &build(&cat, &l, variant, d, &mut rng));
        let value = rng
            .chance(60)
            .then(|| v2(rng.subset(&pool, 40), 0, rng.chance(50)));
        if rng.chance(25) {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o4755)).unwrap();
        }
        if let Some(v) = &value {
            set_raw_xattr(&file, v).unwrap();
        }
        for uid in [65534, 0] {
            if done == cases {
                break;
            }
            let want = real(uid, &file, d);
            let (got, json) = predicted(uid, &file, d);
            assert_eq!(
                got, want,
                "fcap (left) and the kernel (right) disagree: uid {uid}, {variant:?}, value {value:?}, bounding {bounding:#x}, case {done}, FCAP_VERIFY_SEED={seed}\n{json:#}"
            );
            *seen.entry(want.exec).or_default() += 1;
            done += 1;
        }
        k += 1;
    }
    eprintln!("{done} cases, outcomes: {seen:?}");
    if cases >= 2 * VARIANTS.len() {
        // Every variant ran once, so each way the loader fails was seen.
        for code in ["ok", "enoexec", "eio", "elibbad", "enoent", "eacces"] {
            assert!(seen.contains_key(code), "never saw {code}: {seen:?}");
        }
    }
}

/// A 32-bit i386 program goes to the IA32 compat loader (this kernel has
/// CONFIG_IA32_EMULATION on): its PT_INTERP is looked up (ENOENT when missing), and
/// one without PT_INTERP execs (it dies later, after the point of no return).
#[cfg(target_arch = "x86_64")]
#[test]
fn an_i386_program_goes_to_the_compat_loader() {
    require_root();
    let d = tempdir();
    let name = b"/nonexistent/ld-linux.so.2\0";
    let mut f = vec![0u8; 52];
    f[..7].copy_from_slice(b"\x7fELF\x01\x01\x01");
    let words16 =
        |f: &mut Vec<u8>, at: usize, v: u16| f[at..at + 2].copy_from_slice(&v.to_le_bytes());
    words16(&mut f, 16, 2); // ET_EXEC
    words16(&mut f, 18, 3); // EM_386
    f[28..32].copy_from_slice(&52u32.to_le_bytes()); // e_phoff
    words16(&mut f, 40, 52); // e_ehsize
    words16(&mut f, 42, 32); // e_phentsize
    words16(&mut f, 44, 2); // e_phnum
    let ph = |t: u32, off: u32, vaddr: u32, size: u32, flags: u32, align: u32| {
        [t, off, vaddr, vaddr, size, size, flags, align]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect::<Vec<u8>>()
    };
    f.extend(ph(3, 52 + 64, 0, name.len() as u32, 4, 1));
    f.extend(ph(1, 0, 0x0804_8000, 256, 5, 0x1000));
    f.extend(name);
    f.resize(256, 0);
    let dynamic = d.path().join("i386");
    write_exec(&dynamic, &f);
    f[52..56].fill(0); // PT_INTERP -> PT_NULL
    let fixed = d.path().join("i386-static");
    write_exec(&fixed, &f);
    for (file, want) in [(&dynamic, "enoent"), (&fixed, "ok")] {
        let mut c = Command::new("/usr/bin/python3");
        c.args(["-c", EXEC_AS, "0"]).arg(file);
        let out = run(c).stdout();
        let real = match out.trim().strip_prefix("errno ") {
            Some(e) => errno_code(e.parse().unwrap()),
            None => "ok".to_string(),
        };
        assert_eq!(real, want, "the kernel, {}", file.display());
        let (_, v) = predicted(0, file, d.path());
        assert_eq!(v["exec"], want, "{v:#}");
    }
}
