//! Real Debian maintainer scripts (tests/fixtures/postinst, sources in SOURCES.md) run
//! unchanged with fcap's setcap/getcap drop-in in place of libcap's, and give the same
//! capabilities, modes, exit status and output as with libcap.
//!
//! Each run happens in a private mount namespace (`unshare -m`) where /usr, /etc and
//! /var are overlays on scratch directories: the programs a script names are fresh
//! copies made there, debconf answers and dpkg's state are written there, and for the
//! drop-in run libcap's /usr/sbin/setcap and getcap are deleted there and replaced by
//! symlinks to fcap (so the script cannot reach libcap at all). The host's files and
//! package state are never touched; the test checks that too.

use crate::compat::require_tool;
use crate::util::*;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The driver run inside `unshare -m`: $1 scratch dir, $2 mode (libcap|fcap), $3 the
/// fcap binary, $4 the script; then the targets. $PREP runs before the drop-in is
/// put in place (debconf answers, starting values); $WRAP prefixes the script.
const DRIVER: &str = r#"
set -eu
S=$1 MODE=$2 FCAP=$3 SCRIPT=$4
shift 4
"#;

/// Shell lines, run inside `unshare -m --propagation private` with $S set to a scratch
/// directory, that lay overlays over /usr, /etc and /var: every write there (files,
/// dpkg's and debconf's state) lands in $S/usr.up, $S/etc.up and $S/var.up instead.
pub const OVERLAYS: &str = r#"
for d in usr etc var; do
  mkdir -p "$S/$d.up" "$S/$d.work"
  mount -t overlay "fcap-test-$d" -o "lowerdir=/$d,upperdir=$S/$d.up,workdir=$S/$d.work" "/$d"
done
"#;

const DRIVER_BODY: &str = r#"
for t in "$@"; do
  rm -f "$t"
  mkdir -p "$(dirname "$t")"
  cp /bin/true "$t"
  chmod 755 "$t"
done
eval "${PREP:-}"
if [ "$MODE" = fcap ]; then
  rm -f /usr/sbin/setcap /usr/sbin/getcap
  ln -s "$FCAP" /usr/sbin/setcap
  ln -s "$FCAP" /usr/sbin/getcap
  [ "$(command -v setcap)" = /usr/sbin/setcap ] || exit 97
fi
cp "$SCRIPT" "$S/postinst"
chmod 755 "$S/postinst"
rc=0
env DEBIAN_FRONTEND=noninteractive ${WRAP:-} "$S/postinst" configure >"$S/stdout" 2>"$S/stderr" || rc=$?
echo "$rc" >"$S/rc"
"#;

struct Case {
    script: &'static str,
    /// The files the script names, as canonical /usr paths.
    targets: &'static [&'static str],
    prep: &'static str,
    wrap: &'static str,
    /// What each target must carry afterwards (libcap's result, checked so the
    /// comparison is never between two empty results), None for no xattr.
    expect: &'static [Option<&'static str>],
    /// The targets' mode afterwards.
    mode: u32,
}

const CASES: &[Case] = &[
    Case {
        script: "fping.postinst",
        targets: &["/usr/bin/fping"],
        prep: "",
        wrap: "",
        expect: &[Some("cap_net_raw=ep")],
        mode: 0o755,
    },
    Case {
        script: "mtr-tiny.postinst",
        targets: &["/usr/bin/mtr-packet"],
        prep: "",
        wrap: "",
        expect: &[Some("cap_net_raw=ep")],
        mode: 0o755,
    },
    // Without CAP_SETFCAP setcap fails, and the script falls back to setuid root.
    Case {
        script: "mtr-tiny.postinst",
        targets: &["/usr/bin/mtr-packet"],
        prep: "",
        wrap: "setpriv --bounding-set=-setfcap --inh-caps=-all --",
        expect: &[None],
        mode: 0o4755,
    },
    Case {
        script: "iputils-ping.postinst",
        targets: &["/usr/bin/ping"],
        prep: "chmod u+s /usr/bin/ping",
        wrap: "",
        expect: &[Some("cap_net_raw=ep")],
        mode: 0o755,
    },
    Case {
        script: "iputils-arping.postinst",
        targets: &["/usr/bin/arping"],
        prep: "",
        wrap: "",
        expect: &[Some("cap_net_raw=ep")],
        mode: 0o755,
    },
    Case {
        script: "kwin-wayland.postinst",
        targets: &["/usr/bin/kwin_wayland"],
        prep: "",
        wrap: "",
        expect: &[Some("cap_sys_resource=ep")],
        mode: 0o755,
    },
    Case {
        script: "libgstreamer1.0-0.postinst",
        targets: &["/usr/lib/x86_64-linux-gnu/gstreamer1.0/gstreamer-1.0/gst-ptp-helper"],
        prep: "",
        wrap: "",
        expect: &[Some("cap_net_bind_service,cap_net_admin=ep")],
        mode: 0o755,
    },
    Case {
        script: "iproute2.postinst",
        targets: &["/usr/bin/ip"],
        prep: "echo 'iproute2 iproute2/setcaps boolean true' | debconf-set-selections",
        wrap: "",
        expect: &[Some("cap_dac_override,cap_net_admin,cap_sys_admin=ep")],
        mode: 0o755,
    },
    // Answered "no": the script parses getcap's output and runs setcap -r.
    Case {
        script: "iproute2.postinst",
        targets: &["/usr/bin/ip"],
        prep: "echo 'iproute2 iproute2/setcaps boolean false' | debconf-set-selections; setcap cap_net_admin=ep /bin/ip",
        wrap: "",
        expect: &[None],
        mode: 0o755,
    },
    // debconf answered "yes" to "Should non-superusers be able to capture packets?":
    // the script adds the wireshark group, then sets three flags (=eip).
    Case {
        script: "wireshark-common.postinst",
        targets: &["/usr/bin/dumpcap"],
        prep: "echo 'wireshark-common wireshark-common/install-setuid boolean true' | debconf-set-selections",
        wrap: "",
        expect: &[Some("cap_net_admin,cap_net_raw=eip")],
        mode: 0o754,
    },
    Case {
        script: "monitoring-plugins-basic.postinst-excerpt",
        targets: &[
            "/usr/lib/nagios/plugins/check_icmp",
            "/usr/lib/nagios/plugins/check_dhcp",
        ],
        prep: "",
        wrap: "",
        expect: &[
            Some("cap_net_raw=ep"),
            Some("cap_net_bind_service,cap_net_raw=ep"),
        ],
        mode: 0o755,
    },
];

/// What a run left behind.
#[derive(Debug, PartialEq)]
struct Outcome {
    rc: String,
    stdout: String,
    /// (raw security.capability, mode) of each target.
    files: Vec<(Option<Vec<u8>>, u32)>,
}

fn run_case(c: &Case, mode: &str, scratch: &Path) -> Outcome {
    std::fs::create_dir(scratch).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/postinst")
        .join(c.script);
    let script = format!("{DRIVER}{OVERLAYS}{DRIVER_BODY}");
    let mut cmd = Command::new("unshare");
    cmd.args([
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
        "driver",
    ])
    .arg(scratch)
    .arg(mode)
    .arg(env!("CARGO_BIN_EXE_fcap"))
    .arg(&fixture)
    .args(c.targets)
    .env("PREP", c.prep)
    .env("WRAP", c.wrap)
    .env(
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    );
    let r = run(cmd);
    r.ok();
    let read = |n: &str| std::fs::read_to_string(scratch.join(n)).unwrap();
    let upper = |t: &str| -> PathBuf { scratch.join("usr.up").join(&t["/usr/".len()..]) };
    Outcome {
        rc: read("rc"),
        stdout: read("stdout"),
        files: c
            .targets
            .iter()
            .map(|t| {
                let p = upper(t);
                let mode = std::fs::symlink_metadata(&p).unwrap().mode() & 0o7777;
                (raw_xattr(&p), mode)
            })
            .collect(),
    }
}

/// What the host's package state looks like, to prove the runs left it alone.
pub fn host_state() -> Vec<(String, Option<Vec<u8>>, u64)> {
    [
        "/usr/sbin/setcap",
        "/usr/sbin/getcap",
        "/etc/group",
        "/etc/gshadow",
        "/etc/passwd",
        "/usr/bin/ip",
        "/var/lib/dpkg/status",
        "/var/lib/dpkg/statoverride",
        "/var/cache/debconf/config.dat",
        "/usr/lib/x86_64-linux-gnu/gstreamer1.0/gstreamer-1.0/gst-ptp-helper",
    ]
    .iter()
    .map(|p| {
        let path = Path::new(p);
        let digest = std::fs::read(path)
            .map(|b| {
                b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
                    (h ^ u64::from(*x)).wrapping_mul(0x100_0000_01b3)
                })
            })
            .unwrap_or(0);
        let xattr = xattr::get(path, "security.capability").ok().flatten();
        (p.to_string(), xattr, digest)
    })
    .collect()
}

#[test]
fn debian_postinst_scripts_give_the_same_caps_with_the_drop_in() {
    require_root();
    require_tool("unshare", "util-linux");
    require_tool("setcap", "libcap2-bin");
    require_tool("debconf-set-selections", "debconf");
    require_tool("dpkg-divert", "dpkg");
    let before = host_state();
    let work = tempdir();
    for (i, c) in CASES.iter().enumerate() {
        let what = format!(
            "{} (case {i}, prep {:?}, wrap {:?})",
            c.script, c.prep, c.wrap
        );
        let libcap = run_case(c, "libcap", &work.path().join(format!("{i}-libcap")));
        let fcap = run_case(c, "fcap", &work.path().join(format!("{i}-fcap")));
        assert_eq!(fcap, libcap, "{what}");
        assert_eq!(libcap.files.len(), c.expect.len());
        for ((value, mode), want) in libcap.files.iter().zip(c.expect) {
            let want = want.map(|t| {
                fcap::filecaps::FileCaps::from_text(t, None)
                    .unwrap()
                    .encode()
            });
            assert_eq!(value, &want, "{what}: libcap's result");
            assert_eq!(*mode, c.mode, "{what}: mode {mode:o}");
        }
        assert_eq!(libcap.rc.trim(), "0", "{what}: the script's exit status");
    }
    assert_eq!(host_state(), before, "the host's files changed");
}
