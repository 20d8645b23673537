//! The setcap/getcap drop-in, differential against libcap 2.66's own programs: over
//! hundreds of generated command lines (flags between pairs, several pairs, `-` with
//! standard input, -n, -v, -q, -r, missing files, directories, symlinks, fifos, a
//! non-root caller, root without CAP_SETFCAP, texts from the grammar generator), the
//! drop-in must give the same exit status, the same standard output byte for byte,
//! the same bytes on disk, and standard error exactly when libcap writes some.
//! Where Debian's opening setcap (1:2.66-4+deb12u3) would hang, on a fifo, libcap's
//! side gets a socket instead (see `setcap_opens_its_file`), and every run is bounded.
//!
//! Case counts: FCAP_COMPAT_CASES scales them (default 1 = the CI count).

use crate::text_oracle::{Rng, expression};
use crate::util::*;
use fcap::filecaps::FileCaps;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How many times the default case counts to run.
fn scale() -> usize {
    std::env::var("FCAP_COMPAT_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// Fail (never skip) when a program the test runs is missing, naming its package.
#[track_caller]
pub fn require_tool(cmd: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(
        found,
        "this test runs `{cmd}`: install the Debian package {package} (scripts/test does)"
    );
}

/// Who runs both programs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Caller {
    Root,
    /// uid/gid 65534 with no capabilities.
    Nobody,
    /// root whose bounding set lacks CAP_SETFCAP (so its permitted set lacks it too).
    RootWithoutSetfcap,
    /// uid 65534 holding only CAP_SETFCAP (ambient): it writes files it cannot read.
    NobodyWithSetfcap,
}

impl Caller {
    fn wrap(self, prog: &OsStr, args: &[OsString]) -> Command {
        let mut c = match self {
            Caller::Root => Command::new(prog),
            Caller::Nobody => as_nobody(prog),
            Caller::RootWithoutSetfcap => {
                let mut c = Command::new("setpriv");
                c.args(["--bounding-set=-setfcap", "--inh-caps=-all", "--"])
                    .arg(prog);
                c
            }
            Caller::NobodyWithSetfcap => {
                let mut c = Command::new("capsh");
                c.args([
                    "--keep=1",
                    "--user=nobody",
                    "--inh=cap_setfcap",
                    "--addamb=cap_setfcap",
                    "--",
                    "-c",
                    "exec \"$0\" \"$@\"",
                ])
                .arg(prog);
                c
            }
        };
        c.args(args)
            .env("LC_ALL", "C")
            .env_remove("POSIXLY_CORRECT");
        c
    }
}

/// How the drop-in is reached: a symlink named setcap/getcap, a hard link with that
/// name, `fcap setcap ...`, or `fcap --color never setcap ...`.
#[derive(Clone, Copy, Debug)]
enum Form {
    Symlink,
    HardLink,
    Subcommand,
    AfterGlobalOption,
}

const FORMS: [Form; 4] = [
    Form::Symlink,
    Form::HardLink,
    Form::Subcommand,
    Form::AfterGlobalOption,
];

struct DropIn {
    _dir: tempfile::TempDir,
    sym: PathBuf,
    hard: PathBuf,
}

impl DropIn {
    fn new() -> DropIn {
        let dir = tempdir();
        let sym = dir.path().join("sym");
        let hard = dir.path().join("hard");
        std::fs::create_dir(&sym).unwrap();
        std::fs::create_dir(&hard).unwrap();
        let bin = Path::new(env!("CARGO_BIN_EXE_fcap"));
        for name in ["setcap", "getcap"] {
            std::os::unix::fs::symlink(bin, sym.join(name)).unwrap();
            if std::fs::hard_link(bin, hard.join(name)).is_err() {
                // Another filesystem: a copy is an equally real second name (made by
                // cp(1), see util::copy_prog for why not in-process).
                cp(bin, &hard.join(name));
            }
        }
        DropIn {
            _dir: dir,
            sym,
            hard,
        }
    }

    /// (program, arguments) for `name` reached through `form`.
    fn invocation(&self, form: Form, name: &str, args: &[OsString]) -> (OsString, Vec<OsString>) {
        match form {
            Form::Symlink => (self.sym.join(name).into_os_string(), args.to_vec()),
            Form::HardLink => (self.hard.join(name).into_os_string(), args.to_vec()),
            Form::Subcommand => {
                let mut v = vec![OsString::from(name)];
                v.extend_from_slice(args);
                (env!("CARGO_BIN_EXE_fcap").into(), v)
            }
            Form::AfterGlobalOption => {
                let mut v = ["--color", "never", name].map(OsString::from).to_vec();
                v.extend_from_slice(args);
                (env!("CARGO_BIN_EXE_fcap").into(), v)
            }
        }
    }
}

/// What one run produced.
#[derive(Debug)]
struct Outcome {
    code: i32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Run one program of a case in `cwd`, with a bounded wait; `what` names the case if
/// it hangs.
#[track_caller]
fn run_in(mut c: Command, cwd: &Path, stdin: Option<&Path>, what: &str) -> Outcome {
    c.current_dir(cwd);
    let stdin = match stdin {
        Some(p) => Stdio::from(std::fs::File::open(p).unwrap()),
        None => Stdio::null(),
    };
    let out = run_bounded_with(c, stdin, what).out;
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

/// Whether the machine's setcap opens the file it writes (`open(O_RDONLY|O_NOFOLLOW)`,
/// then fsetxattr), as Debian's libcap 1:2.66-4+deb12u3 does (its fix for
/// CVE-2026-4878), rather than checking the path with lstat and writing it with
/// setxattr as libcap 2.66 does. Opening blocks forever on a fifo without a writer.
///
/// Asked once, without a timeout deciding it: setcap runs on a fifo, and this process
/// tries to open the fifo for writing without blocking, which succeeds only while a
/// reader has it open, that is, while setcap waits in its open(2). Either that
/// succeeds (setcap opens; the writer then lets its open return) or setcap exits
/// without ever opening it (the path-based libcap).
fn setcap_opens_its_file() -> bool {
    static OPENS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OPENS.get_or_init(|| {
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::process::CommandExt;
        let d = tempdir();
        let fifo = d.path().join("p");
        mkfifo(&fifo);
        let mut child = Command::new("setcap")
            .args(["cap_kill=p", "p"])
            .current_dir(d.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        let opens = loop {
            if let Ok(_writer) = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&fifo)
            {
                break true;
            }
            if child.try_wait().unwrap().is_some() {
                break false;
            }
            if start.elapsed() > HUNG_AFTER {
                // SAFETY: kill(2) on the process group the child leads.
                unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
                panic!("probing setcap on a fifo: neither open nor exited after 20 s: killed");
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        // Either way setcap refuses the fifo once it looks at it.
        let st = child.wait().unwrap();
        assert_eq!(st.code(), Some(1), "setcap on a fifo");
        eprintln!("setcap opens its file: {opens}");
        opens
    })
}

/// Compare libcap's outcome with the drop-in's; `what` describes the case.
#[track_caller]
fn assert_same(libcap: &Outcome, ours: &Outcome, what: &str) {
    let show = |o: &Outcome| {
        format!(
            "rc={} stdout={:?} stderr={:?}",
            o.code,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let detail = format!("{what}\n libcap: {}\n fcap:   {}", show(libcap), show(ours));
    assert_eq!(ours.code, libcap.code, "exit status differs: {detail}");
    assert_eq!(ours.stdout, libcap.stdout, "stdout differs: {detail}");
    assert_eq!(
        ours.stderr.is_empty(),
        libcap.stderr.is_empty(),
        "stderr emptiness differs: {detail}"
    );
    let text = String::from_utf8_lossy(&ours.stderr);
    // The help (-h) aside, every stderr line is fcap's: one per failure, perhaps after
    // the prompt of a `-`.
    if !text.contains("built into fcap") {
        assert!(
            text.lines().all(|l| l.starts_with("fcap: ")),
            "stderr is not fcap's: {detail}"
        );
    }
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let r = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(r, 0, "mkfifo {p:?}");
}

/// Initial values a file may carry before a case.
fn initial(r: &mut Rng) -> Option<Vec<u8>> {
    let v = |t: &str, root: Option<u32>| Some(FileCaps::from_text(t, root).unwrap().encode());
    match r.below(6) {
        0 | 1 => None,
        2 => v("cap_net_raw=ep", None),
        3 => v("cap_kill=p", Some(1000)),
        4 => v("", None),
        _ => v("cap_chown,cap_setuid=eip", None),
    }
}

/// The names a setcap case may touch, created identically in each tree.
const SETCAP_ENTRIES: [&str; 6] = ["f1", "f2", "sub/f3", "d", "p", "ro"];

/// What stands at "p" in a setcap tree.
#[derive(Clone, Copy, PartialEq)]
enum AtP {
    Fifo,
    /// A socket, in libcap's tree for a case whose fifo an opening setcap would block
    /// on (see the setcap test).
    Socket,
}

/// Build one setcap tree; `init` gives the starting values of f1, f2 and sub/f3.
fn setcap_tree(root: &Path, init: &[Option<Vec<u8>>; 3], at_p: AtP) {
    std::fs::create_dir(root).unwrap();
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::create_dir(root.join("d")).unwrap();
    for (name, v) in ["f1", "f2", "sub/f3"].iter().zip(init) {
        let p = root.join(name);
        std::fs::write(&p, b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        if let Some(v) = v {
            set_raw_xattr(&p, v).unwrap();
        }
    }
    // A file nobody may read: a caller with only CAP_SETFCAP still writes it.
    std::fs::write(root.join("ro"), b"x").unwrap();
    std::fs::set_permissions(root.join("ro"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("f1", root.join("l")).unwrap();
    std::os::unix::fs::symlink("d", root.join("dl")).unwrap();
    std::os::unix::fs::symlink("gone", root.join("dangling")).unwrap();
    match at_p {
        AtP::Fifo => mkfifo(&root.join("p")),
        // The socket file stays when the listener is dropped.
        AtP::Socket => drop(std::os::unix::net::UnixListener::bind(root.join("p")).unwrap()),
    }
}

const FILES: [&str; 30] = [
    "f1",
    "f1",
    "f1",
    "f1",
    "f2",
    "f2",
    "f2",
    "./f1",
    "sub/f3",
    "sub//f3",
    "ro",
    "ro",
    "d",
    "l",
    "dl",
    "dangling",
    "p",
    "missing",
    "d/missing",
    "f1/",
    "",
    "f2",
    "f1",
    "f2",
    "./f1",
    "sub/f3",
    "f1",
    "f2",
    "ro",
    "sub/f3",
];

const COMMON_TEXTS: [&str; 20] = [
    "cap_net_raw+ep",
    "cap_net_raw,cap_net_admin=eip",
    "CAP_SYS_RESOURCE=+ep",
    "cap_net_bind_service=+ep cap_net_raw=+ep",
    "cap_net_bind_service,cap_net_admin+ep",
    "cap_dac_read_search,cap_sys_ptrace+ep",
    "CAP_CHOWN,CAP_NET_BIND_SERVICE+ep",
    "=",
    "",
    " ",
    "cap_chown=e",
    "cap_chown=ep cap_kill=p",
    "cap_chown=p cap_kill=ep",
    "all=ep",
    "=ep cap_chown-e",
    "63+ep",
    "cap_chown+ep 63+ep",
    "cap_kill=p",
    "cap_net_raw=ep",
    "cap_bogus+ep",
];

const ROOTIDS: [&str; 10] = [
    "1000",
    "1000",
    "0",
    "abc",
    "-5",
    " 5",
    "4294967296",
    "0x10",
    "4294967295",
    "",
];

fn text(r: &mut Rng) -> String {
    if r.below(4) != 0 {
        r.pick(&COMMON_TEXTS).to_string()
    } else {
        expression(r)
    }
}

/// One generated setcap command line and the standard input it reads.
fn setcap_case(r: &mut Rng) -> (Vec<OsString>, Vec<u8>) {
    let mut a: Vec<String> = Vec::new();
    let pairs = [1, 1, 1, 1, 1, 1, 2, 2, 2, 3][r.below(10)];
    for k in 0..pairs {
        for _ in 0..[0, 0, 0, 1, 1, 2][r.below(6)] {
            match r.below(10) {
                0..=2 => a.push("-q".into()),
                3..=6 => a.push("-v".into()),
                _ => {
                    a.push("-n".into());
                    a.push(r.pick(&ROOTIDS).into());
                }
            }
        }
        match r.below(12) {
            0 => a.push("-r".into()),
            1 => a.push("-".into()),
            2 if k == 0 => a.push(r.pick(&["-h", "--", "-x", "-n", "-f"]).into()),
            _ => a.push(text(r)),
        }
        // Sometimes the file is missing from the end of the line.
        if k + 1 < pairs || r.below(12) != 0 {
            a.push(r.pick(&FILES).into());
        }
    }
    let stdin = match r.below(6) {
        0 => Vec::new(),
        1 => format!("{}\n", text(r)).into_bytes(),
        2 => format!("{}\n\n{}\n", text(r), text(r)).into_bytes(),
        3 => format!("\n{}", text(r)).into_bytes(),
        4 => format!("{}\0{}", text(r), text(r)).into_bytes(),
        _ => text(r).into_bytes(),
    };
    (a.into_iter().map(OsString::from).collect(), stdin)
}

/// The raw value of every entry a case may touch (symlinks themselves included).
fn snapshot(root: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    SETCAP_ENTRIES
        .iter()
        .chain(["l", "dl"].iter())
        .map(|n| (n.to_string(), raw_xattr(&root.join(n))))
        .collect()
}

#[test]
fn setcap_matches_libcap_on_generated_command_lines() {
    require_root();
    require_tool("setcap", "libcap2-bin");
    require_tool("setpriv", "util-linux");
    require_tool("capsh", "libcap2-bin");
    let drop_in = DropIn::new();
    let work = tempdir();
    let opens = setcap_opens_its_file();
    let mut r = Rng::new(0x005e_7ca9_d1ff);
    let n = 320 * scale();
    let (mut ok, mut failed, mut verified, mut stood_in) = (0, 0, 0, 0);
    for case in 0..n {
        let (args, stdin) = setcap_case(&mut r);
        let caller = match case % 8 {
            5 => Caller::NobodyWithSetfcap,
            6 => Caller::Nobody,
            7 if case % 16 == 7 => Caller::RootWithoutSetfcap,
            _ => Caller::Root,
        };
        // (shifted every round of callers, so that each caller meets every form)
        let form = FORMS[(case + case / 8) % FORMS.len()];
        let init = [initial(&mut r), initial(&mut r), initial(&mut r)];
        let base = work.path().join(case.to_string());
        std::fs::create_dir(&base).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
        // An opening setcap that holds CAP_SETFCAP blocks forever in open(2) on the
        // fifo: its answer there is a hang, libcap's regression, not a value to copy.
        // libcap 2.66 refused every file that is not regular alike, by lstat, before
        // touching it, so in libcap's tree a socket stands in for the fifo: the opening
        // setcap refuses that without blocking (open gives ENXIO, then it looks through
        // O_PATH), with the answer path-based libcap gave for the fifo, and the drop-in,
        // on the real fifo, must give that answer too (and promptly: see run_in).
        let stand_in = opens
            && matches!(caller, Caller::Root | Caller::NobodyWithSetfcap)
            && args.iter().any(|x| x == "p");
        stood_in += usize::from(stand_in);
        let (a, b) = (base.join("libcap"), base.join("fcap"));
        setcap_tree(&a, &init, if stand_in { AtP::Socket } else { AtP::Fifo });
        setcap_tree(&b, &init, AtP::Fifo);
        let input = base.join("stdin");
        std::fs::write(&input, &stdin).unwrap();

        let what = format!(
            "case {case}: {caller:?} {form:?} setcap {args:?} < {:?}{}",
            String::from_utf8_lossy(&stdin),
            if stand_in {
                " (libcap: a socket at p)"
            } else {
                ""
            }
        );
        let libcap = run_in(
            caller.wrap(OsStr::new("setcap"), &args),
            &a,
            Some(&input),
            &what,
        );
        let (prog, pargs) = drop_in.invocation(form, "setcap", &args);
        let ours = run_in(caller.wrap(&prog, &pargs), &b, Some(&input), &what);
        assert_same(&libcap, &ours, &what);
        assert_eq!(snapshot(&b), snapshot(&a), "bytes on disk differ: {what}");
        if libcap.code == 0 {
            ok += 1;
        } else {
            failed += 1;
        }
        verified += usize::from(args.iter().any(|x| x == "-v"));
        std::fs::remove_dir_all(&base).unwrap();
    }
    eprintln!(
        "setcap: {n} command lines, {ok} succeeded, {failed} failed, {verified} with -v, \
         {stood_in} with a socket for libcap's fifo"
    );
    // The generator must reach both outcomes in earnest, and -v lines.
    assert!(
        ok >= n / 8 && failed >= n / 4 && verified >= n / 4,
        "ok {ok}, failed {failed}, with -v {verified} of {n}"
    );
    // The stand-in is there exactly when setcap opens its file, and then only for the
    // few lines naming the fifo: it cannot quietly take over the comparison.
    if opens {
        assert!(
            stood_in > 0 && stood_in <= n / 10,
            "{stood_in} of {n} lines had a socket for libcap's fifo"
        );
    } else {
        assert_eq!(stood_in, 0);
    }
}

/// Where Debian's opening setcap (1:2.66-4+deb12u3) hangs, on a fifo, the drop-in
/// gives path-based libcap 2.66's answer at once: exit 1 and one line, nothing written,
/// for a set, a removal and a set of several pairs that stops at the fifo; it never
/// opens the file, so it cannot block (a hang fails run_in). With only CAP_SETFCAP
/// it writes a file it cannot read, as both libcaps do (the opening one falls back to
/// O_PATH when its open fails).
#[test]
fn setcap_on_a_fifo_answers_at_once_and_an_unreadable_file_is_written() {
    require_root();
    require_tool("capsh", "libcap2-bin");
    let d = DropIn::new();
    let work = tempdir();
    setcap_tree(&work.path().join("t"), &[None, None, None], AtP::Fifo);
    let t = work.path().join("t");
    for caller in [Caller::Root, Caller::NobodyWithSetfcap] {
        for args in [
            &["cap_net_raw=ep", "p"][..],
            &["-r", "p"],
            &["all=ep", "p"],
            &["cap_kill=p", "f1", "cap_kill=p", "p", "cap_kill=p", "f2"],
        ] {
            let what = format!("{caller:?} setcap {args:?}");
            let args: Vec<OsString> = args.iter().map(OsString::from).collect();
            let (prog, pargs) = d.invocation(Form::Symlink, "setcap", &args);
            let out = run_in(caller.wrap(&prog, &pargs), &t, None, &what);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!((out.code, out.stdout.len()), (1, 0), "{what}: {stderr}");
            assert_eq!(
                stderr,
                "fcap: setcap: 'p': not a regular file (a fifo); file capabilities can \
                 only be set on regular files\n",
                "{what}"
            );
            assert_eq!(raw_xattr(&t.join("p")), None, "{what}");
            // Pairs before the fifo are written, pairs after it are not, as in libcap.
            let f1 = FileCaps::from_text("cap_kill=p", None).unwrap().encode();
            let wrote_f1 = args.len() == 6;
            assert_eq!(raw_xattr(&t.join("f1")), wrote_f1.then_some(f1), "{what}");
            assert_eq!(raw_xattr(&t.join("f2")), None, "{what}");
            setcap_clear(&t.join("f1"));
        }
    }
    let (prog, pargs) = d.invocation(
        Form::Symlink,
        "setcap",
        &[OsString::from("cap_net_raw=ep"), OsString::from("ro")],
    );
    let out = run_in(
        Caller::NobodyWithSetfcap.wrap(&prog, &pargs),
        &t,
        None,
        "ro",
    );
    assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        raw_xattr(&t.join("ro")),
        Some(
            FileCaps::from_text("cap_net_raw=ep", None)
                .unwrap()
                .encode()
        )
    );
}

/// A getcap tree: values of every shape, nested and unreadable directories,
/// symlinks, a fifo, and names with a space, a newline and a non-UTF-8 byte.
fn getcap_tree(root: &Path) {
    let file = |rel: &str, v: Option<Vec<u8>>| {
        let p = root.join(rel);
        std::fs::write(&p, b"x").unwrap();
        if let Some(v) = v {
            set_raw_xattr(&p, &v).unwrap();
        }
    };
    let caps = |t: &str, root: Option<u32>| Some(FileCaps::from_text(t, root).unwrap().encode());
    for d in ["g", "g/sub", "g/sub/deeper", "g/locked", "g/noexec", "h"] {
        std::fs::create_dir(root.join(d)).unwrap();
    }
    file("a", caps("cap_chown=ep", None));
    file("b", None);
    file("g/a", caps("cap_net_raw,cap_net_admin=eip", None));
    file("g/b", None);
    file("g/v3", caps("cap_kill=p", Some(1000)));
    file("g/neg", caps("cap_kill=ep", Some(2_147_483_648)));
    file("g/empty", caps("", None));
    file("g/e-only", caps("cap_chown=e", None));
    file("g/high", caps("cap_chown+ep 63+ep", None));
    file("g/sub/c", caps("=ep cap_sys_admin-ep", None));
    file("g/sub/deeper/d", caps("cap_setuid=i", None));
    file("g/locked/hidden", caps("cap_kill=p", None));
    file("g/noexec/x", caps("cap_kill=p", None));
    file("g/with space", caps("cap_chown=p", None));
    file("g/new\nline", caps("cap_chown=p", None));
    let odd = root.join(OsStr::from_bytes(b"g/odd\xff"));
    std::fs::write(&odd, b"x").unwrap();
    set_raw_xattr(
        &odd,
        &FileCaps::from_text("cap_bpf=ep", None).unwrap().encode(),
    )
    .unwrap();
    mkfifo(&root.join("g/fifo"));
    std::os::unix::fs::symlink("a", root.join("g/lnk")).unwrap();
    std::os::unix::fs::symlink("sub", root.join("g/dirlnk")).unwrap();
    std::os::unix::fs::symlink("nowhere", root.join("g/dangling")).unwrap();
    std::os::unix::fs::symlink("g", root.join("gl")).unwrap();
    let mode = |rel: &str, m| {
        std::fs::set_permissions(root.join(rel), std::fs::Permissions::from_mode(m)).unwrap()
    };
    mode("g/locked", 0o700);
    mode("g/noexec", 0o744);
}

const GETCAP_PATHS: [&str; 22] = [
    "a",
    "a",
    "b",
    "g",
    "g",
    "g/",
    "g//",
    "./g",
    "g/.",
    "g/sub",
    "g/a",
    "g/v3",
    "g/neg",
    "g/lnk",
    "g/fifo",
    "gl",
    "gl/",
    "missing",
    "g/locked/hidden",
    "a/",
    "",
    "h",
];

fn getcap_case(r: &mut Rng) -> (Vec<OsString>, bool) {
    let mut a: Vec<OsString> = Vec::new();
    let opts = ["-r", "-r", "-v", "-v", "-n", "-rv", "-vn", "-rvn", "-nr"];
    for _ in 0..r.below(3) {
        a.push(r.pick(&opts).into());
    }
    for _ in 0..1 + r.below(3) {
        a.push(r.pick(&GETCAP_PATHS).into());
        if r.below(5) == 0 {
            // getopt takes options after files too.
            a.push(r.pick(&opts).into());
        }
    }
    if r.below(8) == 0 {
        a.push("g/with space".into());
        a.push(OsString::from_vec(b"g/odd\xff".to_vec()));
    }
    match r.below(30) {
        0 => a.insert(r.below(a.len() + 1), "-h".into()),
        1 => a.insert(r.below(a.len() + 1), "-x".into()),
        2 => a.insert(r.below(a.len() + 1), "--".into()),
        3 => a.insert(r.below(a.len() + 1), "--foo".into()),
        4 => a.insert(r.below(a.len() + 1), "-".into()),
        5 => a.retain(|x| !x.as_bytes().starts_with(b"-")),
        6 => a.clear(),
        _ => {}
    }
    (a, r.below(10) == 0)
}

#[test]
fn getcap_matches_libcap_on_generated_command_lines() {
    require_root();
    require_tool("getcap", "libcap2-bin");
    require_tool("setpriv", "util-linux");
    let drop_in = DropIn::new();
    let work = tempdir();
    getcap_tree(work.path());
    let mut r = Rng::new(0x006e_7ca9);
    let n = 240 * scale();
    let mut printed = 0;
    for case in 0..n {
        let (args, posix) = getcap_case(&mut r);
        let caller = if case % 4 == 3 {
            Caller::Nobody
        } else {
            Caller::Root
        };
        // (shifted every round of callers, so that each caller meets every form)
        let form = FORMS[(case + case / 8) % FORMS.len()];
        let mut libcap = caller.wrap(OsStr::new("getcap"), &args);
        let (prog, pargs) = drop_in.invocation(form, "getcap", &args);
        let mut ours = caller.wrap(&prog, &pargs);
        if posix {
            libcap.env("POSIXLY_CORRECT", "1");
            ours.env("POSIXLY_CORRECT", "1");
        }
        let what = format!("case {case}: {caller:?} {form:?} posix={posix} getcap {args:?}");
        let libcap = run_in(libcap, work.path(), None, &what);
        let ours = run_in(ours, work.path(), None, &what);
        assert_same(&libcap, &ours, &what);
        printed += usize::from(!libcap.stdout.is_empty());
    }
    eprintln!("getcap: {n} command lines, {printed} printed something");
    assert!(
        printed >= n / 2,
        "only {printed} of {n} cases printed anything"
    );
}

#[test]
fn the_license_flags_and_help_name_fcap() {
    let d = DropIn::new();
    for (name, args) in [("setcap", ["--license"]), ("getcap", ["-l"])] {
        let (prog, a) = d.invocation(Form::Symlink, name, &args.map(OsString::from));
        let out = run_in(Caller::Root.wrap(&prog, &a), Path::new("/"), None, name);
        assert_eq!(out.code, 0);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.starts_with(&format!("{name} (fcap ")) && text.contains("not libcap's code"),
            "{text}"
        );
        // Help goes to stderr with status 0, as libcap's does, and points at fcap.
        let (prog, a) = d.invocation(Form::Subcommand, name, &[OsString::from("-h")]);
        let out = run_in(Caller::Root.wrap(&prog, &a), Path::new("/"), None, name);
        assert_eq!((out.code, out.stdout.len()), (0, 0));
        let help = String::from_utf8(out.stderr).unwrap();
        assert!(
            help.contains("built into fcap") && help.contains("fcap --help"),
            "{help}"
        );
    }
}

#[test]
fn setcap_refuses_an_immutable_file_like_libcap_even_when_unchanged() {
    require_root();
    require_tool("chattr", "e2fsprogs");
    let d = DropIn::new();
    let work = tempdir();
    let f = work.path().join("f");
    std::fs::write(&f, b"x").unwrap();
    setcap_on(&f, &["cap_net_raw=ep"]);
    let st = Command::new("chattr").arg("+i").arg(&f).status().unwrap();
    assert!(
        st.success(),
        "chattr +i (needs ext4 or similar under the temp dir)"
    );
    let args = [OsString::from("cap_net_raw=ep"), OsString::from("f")];
    let libcap = run_in(
        Caller::Root.wrap(OsStr::new("setcap"), &args),
        work.path(),
        None,
        "immutable",
    );
    let (prog, a) = d.invocation(Form::Symlink, "setcap", &args);
    let ours = run_in(Caller::Root.wrap(&prog, &a), work.path(), None, "immutable");
    Command::new("chattr").arg("-i").arg(&f).status().unwrap();
    assert_same(&libcap, &ours, "setcap on an immutable file");
    assert_eq!(
        ours.code, 1,
        "the same value, written again, must fail on an immutable file"
    );
}

/// `getcap -r -v /usr | head -1` under `set -o pipefail`: libcap's getcap dies of
/// SIGPIPE (status 141), so the pipeline fails; the drop-in must too (fcap's own
/// commands exit 0 there instead).
#[test]
fn a_closed_pipe_ends_the_drop_in_as_it_ends_libcap() {
    require_tool("getcap", "libcap2-bin");
    let d = DropIn::new();
    let status = |prog: &OsStr| {
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg("set -o pipefail; \"$0\" -r -v /usr 2>/dev/null | head -1 >/dev/null; echo $?")
            .arg(prog);
        run(c).stdout()
    };
    let libcap = status(OsStr::new("getcap"));
    assert_eq!(libcap, "141\n", "libcap's getcap under a closed pipe");
    assert_eq!(status(d.sym.join("getcap").as_os_str()), libcap);
}

/// The README's distroless recipe: a root holding nothing but the binary as
/// /usr/sbin/setcap (no shell, no libc, no /proc) and the program, with setcap run
/// in exec form. It writes libcap's bytes, and getcap there prints libcap's line.
#[test]
fn the_drop_in_works_in_an_empty_root() {
    require_root();
    require_tool("chroot", "coreutils");
    let root = tempdir();
    std::fs::create_dir_all(root.path().join("usr/sbin")).unwrap();
    for name in ["setcap", "getcap"] {
        cp(
            Path::new(env!("CARGO_BIN_EXE_fcap")),
            &root.path().join("usr/sbin").join(name),
        );
    }
    let prog = root.path().join("coredns");
    cp(Path::new("/bin/true"), &prog);
    let mut c = Command::new("chroot");
    c.arg(root.path())
        .args(["/usr/sbin/setcap", "cap_net_bind_service=+ep", "/coredns"]);
    run(c).ok().stdout_is("");
    let want = FileCaps::from_text("cap_net_bind_service=+ep", None).unwrap();
    assert_eq!(raw_xattr(&prog), Some(want.encode()));
    let mut c = Command::new("chroot");
    c.arg(root.path()).args(["/usr/sbin/getcap", "/coredns"]);
    let libcap = getcap(&[prog.as_os_str()]);
    let prefix = root.path().display().to_string();
    run(c)
        .ok()
        .stdout_is(libcap.strip_prefix(prefix.as_str()).unwrap());
    assert!(!root.path().join("proc").exists() && !root.path().join("lib").exists());
}

/// `fcap --color never setcap ...`: fcap's global options may come before the drop-in's
/// name, as before any subcommand, and the drop-in then behaves as libcap's program
/// (status, stdout, bytes written) with every spelling of them; an invalid one is
/// fcap's usage error, and nothing is written.
#[test]
fn global_options_before_the_drop_in_name_reach_it() {
    require_root();
    require_tool("setcap", "libcap2-bin");
    let work = tempdir();
    let theirs = copy_prog(work.path(), "by-libcap");
    let ours = copy_prog(work.path(), "by-fcap");
    let fcap = OsStr::new(env!("CARGO_BIN_EXE_fcap"));
    let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
    for globals in [
        &["--color", "never"][..],
        &["--color=always"],
        &["--color", "auto"],
    ] {
        for (name, args) in [
            ("setcap", &["-v", "cap_net_raw=ep"][..]),
            ("setcap", &["cap_net_raw,cap_chown=ep"]),
            ("setcap", &["-v", "cap_chown,cap_net_raw+ep"]),
            ("getcap", &["-v"]),
            ("setcap", &["-r"]),
            ("getcap", &[]),
        ] {
            let run_on = |prog: &OsStr, pre: &[OsString], f: &Path| {
                let mut a = pre.to_vec();
                a.extend(os(args));
                a.push(f.file_name().unwrap().into());
                run_in(Caller::Root.wrap(prog, &a), work.path(), None, name)
            };
            let libcap = run_on(OsStr::new(name), &[], &theirs);
            let pre = [os(globals), os(&[name])].concat();
            let fcaps = run_on(fcap, &pre, &ours);
            // Both print their own file's name; the rest is the same.
            let fcaps = Outcome {
                stdout: String::from_utf8(fcaps.stdout)
                    .unwrap()
                    .replace("by-fcap", "by-libcap")
                    .into_bytes(),
                ..fcaps
            };
            assert_same(
                &libcap,
                &fcaps,
                &format!("fcap {globals:?} {name} {args:?}"),
            );
            assert_eq!(
                raw_xattr(&ours),
                raw_xattr(&theirs),
                "{globals:?} {name} {args:?}"
            );
        }
    }
    // An invalid value or a misspelt option: fcap's own one-line usage error.
    let before = raw_xattr(&ours);
    for globals in [&["--color", "rainbow"][..], &["--colour", "never"]] {
        let pre = [os(globals), os(&["setcap", "cap_kill=p"])].concat();
        let mut c = Caller::Root.wrap(fcap, &pre);
        c.arg(&ours);
        let out = run(c);
        assert_eq!(out.code(), 2, "{globals:?}: {}", out.stderr());
        assert!(
            out.stderr().starts_with("fcap: ") && out.stderr().lines().count() == 1,
            "{globals:?}: {}",
            out.stderr()
        );
        assert!(out.stderr().contains(globals[0]), "{}", out.stderr());
    }
    assert_eq!(raw_xattr(&ours), before);
}
