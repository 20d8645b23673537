//! The Debian package (debian/, built with debhelper): it builds, lintian finds no
//! error or warning (debian/fcap.lintian-overrides says why for each override), it
//! holds what it must, and installed with dpkg it runs, shows its man page, completes
//! in bash and fish, restores capabilities through its apt hook on a real apt
//! operation, and purges without leaving anything of its own.
//!
//! The package is built and installed the way the README's set-up tells a newcomer to
//! (`scripts/deb`, then `apt install ../fcap_*.deb`, run as written), on a machine that
//! lacks dpkg-dev and debhelper: both are removed first. All of it happens in a private
//! mount namespace whose /usr, /etc and /var are overlays on scratch directories (see
//! maintscripts::OVERLAYS), so the host's package state is never touched; the test
//! checks that too. The package is built around the binary the tests run
//! (FCAP_PREBUILT in debian/rules), so CI compiles fcap once.

use crate::compat::require_tool;
use crate::maintscripts::{OVERLAYS, host_state};
use crate::util::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A copy of the source tree under `work` (`work/src`), as a checkout has it for the
/// package build; the package goes to `work`.
fn checkout(work: &Path) -> PathBuf {
    let src = work.join("src");
    std::fs::create_dir(&src).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cp = Command::new("cp");
    cp.arg("-a");
    for part in [
        "Cargo.toml",
        "Cargo.lock",
        "README.md",
        "debian",
        "man",
        "completions",
        "contrib",
        "scripts",
    ] {
        cp.arg(root.join(part));
    }
    cp.arg(&src);
    run(cp).ok();
    src
}

/// The .deb a package build in `work/src` wrote.
fn package(work: &Path) -> PathBuf {
    let mut a = Command::new("dpkg");
    a.arg("--print-architecture");
    let arch = run(a).stdout().trim().to_string();
    let deb = work.join(format!("fcap_{VERSION}_{arch}.deb"));
    assert!(
        deb.is_file(),
        "{} missing: debian/changelog's version must be Cargo.toml's ({VERSION})",
        deb.display()
    );
    deb
}

/// The commands of the README's set-up block (its first `sh` block), comments left out.
fn readme_set_up() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("README.md has no ```sh block");
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// The README opens with the two commands a newcomer runs: one builds the tool and
/// shows it working, one runs the whole suite (what .ci/run runs, exactly); the rest
/// builds and installs the package (run for real in the package test below). Every
/// command names a program that is there: a script of the checkout, executable and
/// valid shell, or a program on PATH.
#[test]
fn the_readme_set_up_commands_are_these_and_each_is_runnable() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cmds = readme_set_up();
    assert_eq!(
        cmds[..2],
        [
            "rustup target add x86_64-unknown-linux-musl && cargo run --release -- list",
            "scripts/test"
        ],
        "the README's first two commands"
    );
    assert_eq!(cmds[2..], ["scripts/deb", "apt install ../fcap_*.deb"]);
    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l == "scripts/test"),
        ".ci/run does not run the README's test command as written:\n{ci}"
    );
    for cmd in cmds.iter().flat_map(|c| c.split("&&")).map(str::trim) {
        let prog = cmd.split_whitespace().next().unwrap();
        if prog.contains('/') {
            let script = root.join(prog);
            let mode = std::fs::metadata(&script)
                .unwrap_or_else(|e| panic!("{cmd}: {}: {e}", script.display()))
                .permissions()
                .mode();
            assert!(mode & 0o111 != 0, "{cmd}: not executable");
            let mut c = Command::new("bash");
            c.arg("-n").arg(&script);
            run(c).ok();
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("command -v {prog}")]);
            assert_eq!(run(c).code(), 0, "{cmd}: {prog} is not on PATH");
        }
    }
    // What `cargo run --release -- list` runs, built by this suite from the same source.
    let list = fcap_run(["list"]);
    list.ok();
    assert!(
        list.stdout().contains("cap_net_bind_service"),
        "{}",
        list.stdout()
    );
}

fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let mut c = Command::new("dpkg-deb");
    c.args(args).arg(deb);
    let r = run(c);
    r.ok();
    r.stdout()
}

/// True when the ELF file asks for no dynamic loader (no PT_INTERP).
fn is_static(elf: &[u8]) -> bool {
    assert_eq!(&elf[..5], b"\x7fELF\x02", "not a 64-bit ELF file");
    let u16_at = |o: usize| usize::from(u16::from_le_bytes([elf[o], elf[o + 1]]));
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    !(0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) == 3
    })
}

fn check_contents(deb: &Path) {
    let listing = dpkg_deb(&["-c"], deb);
    let paths: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(|p| p.trim_start_matches("./"))
        .collect();
    let mut want: Vec<String> = [
        "usr/bin/fcap",
        "etc/apt/apt.conf.d/99fcap",
        "etc/fcap.d/example.caps",
        "usr/share/bash-completion/completions/fcap",
        "usr/share/zsh/vendor-completions/_fcap",
        "usr/share/fish/vendor_completions.d/fcap.fish",
        "usr/share/doc/fcap/copyright",
        "usr/share/doc/fcap/changelog.gz",
        "usr/share/doc/fcap/README.md.gz",
        "usr/share/doc/fcap/README.Debian",
    ]
    .map(String::from)
    .to_vec();
    // Every man page the source holds (man/NAME.SECTION), however many there are.
    let man = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let mut pages = 0;
    for e in std::fs::read_dir(&man).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        let Some((_, section)) = name.rsplit_once('.') else {
            continue;
        };
        if section.len() == 1 && section.as_bytes()[0].is_ascii_digit() {
            want.push(format!("usr/share/man/man{section}/{name}.gz"));
            pages += 1;
        }
    }
    assert!(pages >= 1, "no man pages found in {}", man.display());
    for w in &want {
        assert!(
            paths.contains(&w.as_str()),
            "{w} missing from the package:\n{listing}"
        );
    }
    let conffiles = {
        let dir = tempdir();
        let mut c = Command::new("dpkg-deb");
        c.arg("-e").arg(deb).arg(dir.path().join("c"));
        run(c).ok();
        std::fs::read_to_string(dir.path().join("c/conffiles")).unwrap()
    };
    assert_eq!(
        conffiles,
        "/etc/apt/apt.conf.d/99fcap\n/etc/fcap.d/example.caps\n"
    );
    // Side by side with libcap2-bin: no Conflicts, Breaks or Replaces at all.
    let fields = dpkg_deb(&["-f"], deb);
    for f in ["Conflicts:", "Breaks:", "Replaces:", "Provides:"] {
        assert!(!fields.contains(f), "{f} in the control file:\n{fields}");
    }
    let mut x = Command::new("sh");
    x.arg("-c")
        .arg("dpkg-deb --fsys-tarfile \"$0\" | tar -xO ./usr/bin/fcap")
        .arg(deb);
    let bin = x.output().unwrap().stdout;
    assert!(is_static(&bin), "the packaged /usr/bin/fcap is not static");
}

/// Inside the namespace: $S is the scratch dir, $SRC the checkout.
const SCRIPT: &str = r#"
set -eu
S=$1 SRC=$2
"#;

/// A machine without the packaging tools: apt removes dpkg-dev and debhelper, and what
/// depends on them (build-essential, lintian), in the overlays only.
const WITHOUT_PACKAGING_TOOLS: &str = r#"
# Apt hooks of the host that talk to daemons outside this namespace (PackageKit over
# D-Bus) are left out; fcap's own hook is the one under test.
rm -f /etc/apt/apt.conf.d/20packagekit
# man-db rebuilds its index after every package operation unless this file is gone
# (seconds each time); `man fcap` below finds the page without the index.
rm -f /var/lib/man-db/auto-update
DEBIAN_FRONTEND=noninteractive apt-get remove -y debhelper dpkg-dev >"$S/remove.log" 2>&1
! command -v dh >/dev/null && ! command -v dpkg-buildpackage >/dev/null
"#;

const USE_HOOK_PURGE: &str = r#"
/usr/bin/fcap --version >"$S/version"
MANPAGER=cat MANWIDTH=80 man fcap >"$S/man" 2>"$S/man.err"
bash -c '. /usr/share/bash-completion/completions/fcap
  COMP_WORDS=(fcap gra); COMP_CWORD=1; COMP_LINE="fcap gra"; COMP_POINT=8
  _fcap fcap gra fcap; printf "%s\n" "${COMPREPLY[@]}"' >"$S/bash"
mkdir -p "$S/home"
HOME="$S/home" XDG_CONFIG_HOME="$S/home" XDG_DATA_HOME="$S/home" fish -c 'complete -C "fcap gra"' >"$S/fish"

# A package whose program carries a capability recorded in /etc/fcap.d.
P=/usr/lib/fcap-hook-test/prog
mkdir -p "$S/dummy/DEBIAN" "$S/dummy/usr/lib/fcap-hook-test"
cp /bin/true "$S/dummy$P"
printf '%s\n' 'Package: fcap-hook-test' 'Version: 1.0' 'Architecture: all' \
  'Maintainer: fcap tests <tests@example.org>' 'Description: a program whose capability fcap restores' \
  >"$S/dummy/DEBIAN/control"
dpkg-deb --root-owner-group --build "$S/dummy" "$S/dummy.deb" >/dev/null
dpkg -i "$S/dummy.deb" >>"$S/install.log" 2>&1
setcap cap_net_raw=ep "$P"
fcap read "$P" >/etc/fcap.d/hook-test.caps
# The control: a bare dpkg reinstall (no apt, so no hook) loses the capability.
dpkg -i "$S/dummy.deb" >>"$S/install.log" 2>&1
getcap "$P" >"$S/after-dpkg"
# The real operation: apt reinstalls the package; its DPkg::Post-Invoke hook runs.
apt-get install -y --reinstall "$S/dummy.deb" >"$S/apt.log" 2>&1
getcap "$P" >"$S/after-apt"

# The admin's own manifest is the admin's to keep (dpkg leaves it); remove it so that
# whatever remains after the purge is the package's.
rm /etc/fcap.d/hook-test.caps
dpkg --purge fcap >"$S/purge.log" 2>&1
dpkg-query -W -f='${db:Status-Abbrev}' fcap >"$S/status" 2>&1 || true
"#;

/// Every path under `dir`, relative to it.
fn all_paths(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.symlink_metadata().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

#[test]
fn the_debian_package_builds_passes_lintian_installs_hooks_and_purges() {
    require_root();
    require_tool("lintian", "lintian");
    require_tool("unshare", "util-linux");
    require_tool("apt-get", "apt");
    require_tool("man", "man-db");
    require_tool("fish", "fish");
    require_tool("setcap", "libcap2-bin");
    let before = host_state();
    let work = tempdir();
    let src = checkout(work.path());
    // The README's package commands, run as written from the checkout, in order.
    let readme: String = readme_set_up()
        .iter()
        .skip_while(|c| !c.starts_with("scripts/deb"))
        .map(|c| format!("(cd \"$SRC\" && {c}) >>\"$S/install.log\" 2>&1\n"))
        .collect();
    assert!(readme.contains("apt install"), "{readme}");

    let s = work.path().join("ns");
    std::fs::create_dir(&s).unwrap();
    let script = format!(
        "{SCRIPT}{OVERLAYS}{WITHOUT_PACKAGING_TOOLS}{readme}\
         command -v dh >\"$S/dh\"\n{USE_HOOK_PURGE}"
    );
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c", &script, "pkg"])
        .arg(&s)
        .arg(&src)
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("FCAP_PREBUILT", env!("CARGO_BIN_EXE_fcap"))
        .env("DEB_BUILD_OPTIONS", "noddebs");
    let r = run(c);
    let read = |n: &str| std::fs::read_to_string(s.join(n)).unwrap_or_default();
    assert_eq!(
        r.code(),
        0,
        "{}\nremove.log:\n{}\ninstall.log:\n{}\napt.log:\n{}\npurge.log:\n{}",
        r.stderr(),
        read("remove.log"),
        read("install.log"),
        read("apt.log"),
        read("purge.log")
    );
    // scripts/deb installed debhelper (and dpkg-dev) again, and built the package.
    assert_eq!(read("dh"), "/usr/bin/dh\n", "{}", read("install.log"));
    let deb = package(work.path());
    check_contents(&deb);

    let mut l = Command::new("lintian");
    l.args(["--fail-on", "error,warning", "--display-info"])
        .arg(&deb);
    let lint = run(l);
    lint.ok();
    assert!(
        !lint
            .stdout()
            .lines()
            .any(|l| l.starts_with("E:") || l.starts_with("W:")),
        "lintian:\n{}",
        lint.stdout()
    );

    assert_eq!(read("version"), format!("fcap {VERSION}\n"));
    let man = read("man");
    assert!(
        man.contains("NAME") && man.contains("fcap") && man.contains("capabilities"),
        "man fcap:\n{man}\n{}",
        read("man.err")
    );
    assert!(
        read("bash").lines().any(|l| l == "grant"),
        "bash: {}",
        read("bash")
    );
    assert!(
        read("fish").lines().any(|l| l.starts_with("grant")),
        "fish: {}",
        read("fish")
    );

    // Without the hook the capability is gone; after apt, the hook put it back.
    assert_eq!(
        read("after-dpkg"),
        "",
        "a bare dpkg reinstall kept the capability?"
    );
    assert_eq!(
        read("after-apt"),
        "/usr/lib/fcap-hook-test/prog cap_net_raw=ep\n",
        "apt.log:\n{}",
        read("apt.log")
    );

    // Purged: dpkg forgets it, and nothing of the package's is left in /usr or /etc.
    let status = read("status");
    assert!(
        status.is_empty() || status.starts_with("un") || status.contains("no packages found"),
        "dpkg still knows fcap: {status:?}"
    );
    for top in ["usr.up", "etc.up"] {
        let left: Vec<String> = all_paths(&s.join(top))
            .into_iter()
            .filter(|p| p.contains("fcap") && !p.contains("fcap-hook-test"))
            .collect();
        assert!(left.is_empty(), "left after the purge in {top}: {left:?}");
    }
    let info: Vec<String> = all_paths(&s.join("var.up/lib/dpkg/info"))
        .into_iter()
        .filter(|p| p.starts_with("fcap."))
        .collect();
    assert!(info.is_empty(), "dpkg's records left: {info:?}");

    assert_eq!(host_state(), before, "the host's files changed");
}
