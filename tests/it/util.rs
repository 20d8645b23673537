//! The small harness every integration test uses.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The fcap binary under test, with a hermetic environment.
pub fn fcap() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fcap"));
    c.env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("LC_ALL", "C");
    c
}

/// The result of one run, with helpers that print everything on failure.
pub struct Run {
    pub cmd: String,
    pub out: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    pub fn code(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }
    #[track_caller]
    pub fn status(&self, want: i32) -> &Self {
        assert_eq!(
            self.code(),
            want,
            "exit status of `{}`\nstdout:\n{}\nstderr:\n{}",
            self.cmd,
            self.stdout(),
            self.stderr()
        );
        self
    }
    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.status(0)
    }
    #[track_caller]
    pub fn stdout_is(&self, want: &str) -> &Self {
        assert_eq!(
            self.stdout(),
            want,
            "stdout of `{}`\nstderr:\n{}",
            self.cmd,
            self.stderr()
        );
        self
    }
    #[track_caller]
    pub fn stderr_is(&self, want: &str) -> &Self {
        assert_eq!(
            self.stderr(),
            want,
            "stderr of `{}`\nstdout:\n{}",
            self.cmd,
            self.stdout()
        );
        self
    }
    #[track_caller]
    pub fn stderr_has(&self, want: &str) -> &Self {
        assert!(
            self.stderr().contains(want),
            "stderr of `{}` lacks {want:?}:\n{}",
            self.cmd,
            self.stderr()
        );
        self
    }
}

/// Run a command and capture everything. A program that is not installed fails the
/// test with one line naming its Debian package (see [`missing_tool`]).
pub fn run(mut c: Command) -> Run {
    let cmd = format!("{c:?}");
    let out = c.output().unwrap_or_else(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            missing_tool(&c.get_program().to_string_lossy());
        }
        panic!("cannot run {cmd}: {e}")
    });
    Run { cmd, out }
}

/// How long one program of the suite may run before it counts as hung.
pub const HUNG_AFTER: Duration = Duration::from_secs(20);

/// [`run`] with a deadline and standard input from /dev/null: a hang is a failure,
/// not a stuck test run.
#[track_caller]
pub fn run_bounded(c: Command) -> Run {
    run_bounded_with(c, Stdio::null(), "")
}

/// Run `c` with this standard input and a deadline: still running after
/// [`HUNG_AFTER`], it is killed with its whole process group (a wrapper such as capsh
/// or setpriv and what it runs) and the test fails, naming `what` and the command.
/// Output is drained while it runs, so a chatty program is never taken for a hung one.
#[track_caller]
pub fn run_bounded_with(mut c: Command, stdin: Stdio, what: &str) -> Run {
    let cmd = format!("{c:?}");
    let child = c
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                missing_tool(&c.get_program().to_string_lossy());
            }
            panic!("cannot run {cmd}: {e}")
        });
    let group = child.id() as libc::pid_t;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(HUNG_AFTER) {
        Ok(out) => Run {
            out: out.unwrap_or_else(|e| panic!("waiting for {cmd}: {e}")),
            cmd,
        },
        Err(_) => {
            // SAFETY: kill(2) with a negative pid signals the process group the child
            // leads (process_group(0) above); nothing else is in it.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            panic!(
                "{what}: `{cmd}` still running after {} s (hung): killed",
                HUNG_AFTER.as_secs()
            )
        }
    }
}

/// The Debian package that provides `tool`, from `scripts/test`'s `tools=(...)` list:
/// the one place that says which packages the suite needs.
pub fn package_of(tool: &str) -> Option<String> {
    let script =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test")).ok()?;
    let list = script.split("tools=(").nth(1)?.split(')').next()?;
    list.split_whitespace()
        .filter_map(|w| w.split_once(':'))
        .find(|(cmd, _)| *cmd == tool)
        .map(|(_, pkg)| pkg.to_string())
}

/// Fail the current test because `tool` is not installed: one line that names the
/// package, and no panic message or backtrace (`resume_unwind` skips the panic hook;
/// the test harness still reports the test as failed and shows the line).
pub fn missing_tool(tool: &str) -> ! {
    let msg = match package_of(tool) {
        Some(pkg) => format!(
            "fcap tests: '{tool}' is not installed: install the Debian package {pkg} (scripts/test installs it: run the suite with scripts/test)"
        ),
        None => format!(
            "fcap tests: '{tool}' is not installed, and scripts/test does not list it: add 'command:package' to its tools=(...) list"
        ),
    };
    eprintln!("{msg}");
    std::panic::resume_unwind(Box::new(msg))
}

/// Fail the current test with one line naming the package unless `tool` is on PATH
/// (for tests that spawn it without [`run`]).
pub fn require_tool(tool: &str) {
    let found = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|d| {
            std::fs::metadata(d.join(tool))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    });
    if !found {
        missing_tool(tool);
    }
}

/// Run fcap with these arguments.
pub fn fcap_run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = fcap();
    c.args(args);
    run(c)
}

/// A temp dir that an unprivileged user can reach (temp dirs are created 0700).
pub fn tempdir() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("fcap-test")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// Copy a small real program into `dir` (never touch system files).
///
/// The copy is made by cp(1), not by this process: a file this (multi-threaded) test
/// process had open for writing could be inherited by a child another test forks at
/// that moment, and executing the copy would then fail with ETXTBSY.
pub fn copy_prog(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    let st = Command::new("cp")
        .arg("/bin/true")
        .arg(&p)
        .status()
        .unwrap();
    assert!(st.success(), "cp /bin/true {}", p.display());
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// Run libcap's setcap, with a bounded wait (see [`run_bounded`]): since Debian's
/// 1:2.66-4+deb12u3 it opens its file, which blocks forever on a fifo.
pub fn setcap(args: &[&OsStr]) -> Run {
    let mut c = Command::new("setcap");
    c.args(args);
    run_bounded(c)
}

/// Remove `p`'s capabilities with libcap's `setcap -r`, if it has any (setcap exits 1
/// when there is nothing to remove: that is ignored).
pub fn setcap_clear(p: &Path) {
    let _ = setcap(&[OsStr::new("-r"), p.as_os_str()]);
}

/// libcap's `getcap` output for one file.
pub fn getcap(args: &[&OsStr]) -> String {
    let mut c = Command::new("getcap");
    c.args(args);
    run(c).stdout()
}

/// The raw `security.capability` bytes of a file, read without following symlinks.
pub fn raw_xattr(p: &Path) -> Option<Vec<u8>> {
    xattr::get(p, "security.capability").unwrap()
}

/// Write raw bytes into `security.capability` (needs CAP_SETFCAP; the kernel
/// validates the shape on write).
pub fn set_raw_xattr(p: &Path, v: &[u8]) -> std::io::Result<()> {
    xattr::set(p, "security.capability", v)
}

/// True when this process can write file capabilities (CAP_SETFCAP effective).
pub fn can_setfcap() -> bool {
    caps::has_cap(None, caps::CapSet::Effective, caps::Capability::CAP_SETFCAP).unwrap()
}

/// `s` as an `&OsStr`, for building argument lists.
pub fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Copy `src` to `dest` with cp(1) (see [`copy_prog`] for why not in-process).
pub fn cp(src: &Path, dest: &Path) {
    let st = Command::new("cp").arg(src).arg(dest).status().unwrap();
    assert!(st.success(), "cp {} {}", src.display(), dest.display());
}

/// Create an executable file with these contents, for a test that will execute it:
/// the bytes are written to a scratch file by this process and the final inode is
/// made by cp(1), so no forked child can hold it open for writing (ETXTBSY).
pub fn write_exec(dest: &Path, contents: &[u8]) {
    let scratch = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(scratch.path(), contents).unwrap();
    cp(scratch.path(), dest);
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A shell command line run by `nobody` holding CAP_SETFCAP and nothing else (the
/// capability is made ambient by capsh, so it survives the uid switch and the exec of
/// `sh`). The script first proves the shell's effective set is exactly CAP_SETFCAP
/// (exit 99 otherwise).
/// `program` run as nobody (uid and gid 65534, no groups, no inheritable
/// capabilities), through setpriv; add its arguments to the command.
pub fn as_nobody(program: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        "--",
    ])
    .arg(program);
    c
}

pub fn only_setfcap_as_nobody(script: &str) -> Command {
    let script =
        format!("grep -q '^CapEff:.0000000080000000$' /proc/self/status || exit 99; {script}");
    let mut c = Command::new("capsh");
    c.args([
        "--keep=1",
        "--user=nobody",
        "--inh=cap_setfcap",
        "--addamb=cap_setfcap",
        "--",
        "-c",
    ])
    .arg(script);
    c
}

/// Fail loudly unless this process may write file capabilities: the suite writes
/// xattrs, mounts filesystems and installs packages, and runs as root in CI. A test
/// never skips for want of privilege.
#[track_caller]
pub fn require_root() {
    assert!(
        can_setfcap(),
        "this test writes file capabilities and must run as root with CAP_SETFCAP (CI does)"
    );
}

impl Run {
    /// stdout as JSON Lines, one value per line.
    #[track_caller]
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout()
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?} from `{}`", self.cmd))
            })
            .collect()
    }
}

/// Give `p` capabilities with libcap's setcap (`args` may start with `-n ROOTID`),
/// asserting it worked.
pub fn setcap_on(p: &Path, args: &[&str]) {
    let mut v: Vec<&OsStr> = args.iter().map(|a| OsStr::new(*a)).collect();
    v.push(p.as_os_str());
    setcap(&v).ok();
}

/// One file of an [`OfflineFs`]: a copy of `src` with this mode and owner, and this raw
/// `security.capability` value (None: no attribute).
pub struct OfflineFile<'a> {
    pub name: &'a str,
    pub src: &'a Path,
    pub mode: u32,
    pub owner: (u32, u32),
    pub value: Option<&'a [u8]>,
}

/// A small ext4 image whose files carry `security.capability` values written offline
/// by debugfs, loop-mounted with the given options; unmounted on drop.
///
/// The kernel refuses some values through setxattr (this one refuses a zero-length
/// value with EINVAL, and every malformed one), but honours or rejects what is already
/// on disk at exec: that is the case these files reproduce. Owner and mode are set
/// before the value, because a chown drops the attribute.
pub struct OfflineFs {
    dir: tempfile::TempDir,
    opts: String,
    mounted: bool,
}

impl OfflineFs {
    pub fn new(files: &[OfflineFile], opts: &str) -> OfflineFs {
        require_root();
        require_tool("debugfs");
        require_tool("mkfs.ext4");
        let dir = tempdir();
        let img = dir.path().join("img");
        std::fs::create_dir(dir.path().join("mnt")).unwrap();
        let size = (8 << 20)
            + files
                .iter()
                .map(|f| std::fs::metadata(f.src).map(|m| m.len()).unwrap_or(0) * 2)
                .sum::<u64>();
        std::fs::File::create(&img).unwrap().set_len(size).unwrap();
        // The tree is built in a staging directory and copied in by mkfs itself, so
        // the image is never mounted before debugfs writes to it: a mount copied into
        // another test's private namespace (unshare -m) would outlive our umount and
        // could write stale metadata back over debugfs's change.
        let staging = dir.path().join("staging");
        std::fs::create_dir(&staging).unwrap();
        std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o755)).unwrap();
        for f in files {
            let p = staging.join(f.name);
            cp(f.src, &p);
            std::os::unix::fs::chown(&p, Some(f.owner.0), Some(f.owner.1)).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(f.mode)).unwrap();
        }
        run({
            let mut c = Command::new("mkfs.ext4");
            c.args(["-q", "-F", "-d"]).arg(&staging).arg(&img);
            c
        })
        .ok();
        let mut me = OfflineFs {
            dir,
            opts: opts.to_string(),
            mounted: false,
        };
        for f in files {
            let Some(v) = f.value else { continue };
            let val = me.dir.path().join(format!("val-{}", f.name));
            std::fs::write(&val, v).unwrap();
            let req = format!(
                "ea_set -f {} /{} security.capability",
                val.display(),
                f.name
            );
            run({
                let mut c = Command::new("debugfs");
                c.args(["-w", "-R", &req]).arg(&img);
                c
            })
            .ok();
        }
        me.mount();
        me
    }

    /// The mount point.
    pub fn mnt(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    /// A file of the image, as mounted.
    pub fn path(&self, name: &str) -> PathBuf {
        self.mnt().join(name)
    }

    fn mount(&mut self) {
        let opts = if self.opts.is_empty() {
            "loop".to_string()
        } else {
            format!("loop,{}", self.opts)
        };
        run({
            let mut c = Command::new("mount");
            c.args(["-o", &opts])
                .arg(self.dir.path().join("img"))
                .arg(self.mnt());
            c
        })
        .ok();
        self.mounted = true;
    }

    fn umount(&mut self) {
        run({
            let mut c = Command::new("umount");
            c.arg(self.mnt());
            c
        })
        .ok();
        self.mounted = false;
    }

    /// The value on disk, read offline by debugfs (the kernel may not hand it out).
    pub fn on_disk(&mut self, name: &str) -> Vec<u8> {
        let was = self.mounted;
        if was {
            self.umount();
        }
        let out = self.dir.path().join(format!("out-{name}"));
        let req = format!("ea_get -f {} /{name} security.capability", out.display());
        run({
            let mut c = Command::new("debugfs");
            c.args(["-R", &req]).arg(self.dir.path().join("img"));
            c
        })
        .ok();
        if was {
            self.mount();
        }
        std::fs::read(out).unwrap()
    }
}

impl Drop for OfflineFs {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(self.mnt()).status();
        }
    }
}

/// One file with a raw value written offline (see [`OfflineFs`]): a copy of the test's
/// `cat` program, mode 0755, owned by root, on a mount with `opts`.
pub fn offline_file(value: &[u8], opts: &str) -> (OfflineFs, PathBuf) {
    let fs = OfflineFs::new(
        &[OfflineFile {
            name: "prog",
            src: Path::new("/bin/cat"),
            mode: 0o755,
            owner: (0, 0),
            value: Some(value),
        }],
        opts,
    );
    let p = fs.path("prog");
    (fs, p)
}

/// The seed and case count of a random differential test, from `{PREFIX}_SEED` and
/// `{PREFIX}_CASES` (a fresh seed and `default_cases` when unset), printed so that a
/// failing run can be replayed.
pub fn random_run(prefix: &str, what: &str, default_cases: usize) -> (u64, usize, SplitMix) {
    let seed = std::env::var(format!("{prefix}_SEED"))
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let cases = std::env::var(format!("{prefix}_CASES"))
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_cases);
    eprintln!("{what}: {prefix}_SEED={seed} {prefix}_CASES={cases}");
    (seed, cases, SplitMix(seed))
}

/// splitmix64: small, seeded, reproducible; the random differential tests' source of
/// cases (verify against capsh, verify against runc).
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    /// Each capability of `pool` with probability `percent`, as a bit set.
    pub fn subset(&mut self, pool: &[u32], percent: u64) -> u64 {
        pool.iter()
            .filter(|_| self.chance(percent))
            .fold(0, |a, c| a | 1u64 << c)
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[(self.next() % v.len() as u64) as usize]
    }
}

/// The reason codes of a `verify --json` answer, in order.
pub fn codes(v: &serde_json::Value) -> Vec<String> {
    v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect()
}

/// Compile `tests/it/NAME.c` with gcc into `dir/NAME` (a test's helper program that
/// makes system calls in an exact order); fails with one line naming the Debian
/// package when gcc or the C library headers are missing.
#[track_caller]
pub fn build_c(name: &str, dir: &Path) -> PathBuf {
    require_tool("gcc");
    if !Path::new("/usr/include/stdio.h").exists() {
        let msg = "fcap tests: the C library headers are not installed: install the Debian package libc6-dev (scripts/test installs it: run the suite with scripts/test)";
        eprintln!("{msg}");
        std::panic::resume_unwind(Box::new(msg));
    }
    let out = dir.join(name);
    let mut c = Command::new("gcc");
    c.args(["-O2", "-Wall", "-Werror", "-o"])
        .arg(&out)
        .arg(format!("{}/tests/it/{name}.c", env!("CARGO_MANIFEST_DIR")));
    run(c).ok();
    out
}

/// A scratch directory where a test builds its images with real tools.
pub struct Lab {
    pub d: tempfile::TempDir,
}

impl Lab {
    /// A lab for a test that uses these programs: a missing one fails the test with
    /// its Debian package, before any shell script could say "command not found".
    pub fn new(tools: &[&str]) -> Lab {
        require_root();
        for t in tools {
            require_tool(t);
        }
        Lab { d: tempdir() }
    }

    pub fn p(&self, rel: &str) -> std::path::PathBuf {
        self.d.path().join(rel)
    }

    pub fn s(&self, rel: &str) -> String {
        self.p(rel).to_str().unwrap().to_string()
    }

    /// Run a bash script in the lab, failing the test (with its output) unless it
    /// succeeds.
    #[track_caller]
    pub fn sh(&self, script: &str) -> Run {
        let mut c = std::process::Command::new("bash");
        c.args(["-euo", "pipefail", "-c", script])
            .current_dir(self.d.path())
            .env("LC_ALL", "C");
        let r = run(c);
        r.ok();
        r
    }

    /// fcap run in the lab directory.
    pub fn fcap(&self, args: &[&str]) -> Run {
        let mut c = fcap();
        c.args(args).current_dir(self.d.path());
        run(c)
    }
}
