//! Container engines started by a test, for the test: a private `dockerd` (with the
//! `containerd` it starts for itself) and a `podman` with its own storage.
//!
//! Nothing here touches the host's engines or their state: every engine gets scratch
//! roots under one temp dir, no iptables rules, no bridge, and is stopped by its pid
//! when the guard drops (also when the test panics). A test shares one engine across
//! its assertions, because a start costs seconds.
//!
//! API:
//! * [`Dockerd::start`] → a running daemon; [`Dockerd::docker`] is a `docker` command
//!   talking to it; [`Dockerd::containerd_socket`] is the containerd it runs.
//! * [`Podman::new`] → [`Podman::cmd`], a `podman` command with a fresh `--root`.
//! * [`wait_for`] polls a readiness check with a deadline (a hang guard, not a timed
//!   assertion: a slow machine only waits longer before the test fails).
#![allow(dead_code)]

use crate::util::{require_root, require_tool, run, tempdir};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long an engine may take to become ready before the test fails. Generous: six
/// engineers share two cores.
const READY: Duration = Duration::from_secs(120);

/// Poll `ready` every 100 ms until it is true; on a deadline, or when `alive` says the
/// process died, fail with `what` and the log at `log`.
#[track_caller]
pub fn wait_for(
    what: &str,
    log: &Path,
    mut alive: impl FnMut() -> bool,
    mut ready: impl FnMut() -> bool,
) {
    let start = Instant::now();
    loop {
        if ready() {
            return;
        }
        let dead = !alive();
        if dead || start.elapsed() > READY {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            let state = if dead {
                "exited before it was ready"
            } else {
                "was not ready in time"
            };
            panic!("{what} {state}; its log ends:\n{}", tail.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Make a spawned engine die with the test process (SIGKILL when the thread that
/// started it exits), so a test killed from outside leaves no daemon behind; the
/// guard's Drop stops it properly in every ordinary case.
fn die_with_parent(c: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        c.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Send SIGTERM to `child`, wait for it (SIGKILL after `grace`), and reap it.
fn stop(child: &mut Child, grace: Duration) {
    // The pid is ours (a child we have not reaped), so it cannot have been reused.
    let pid = child.id() as libc::pid_t;
    // SAFETY: plain kill(2) on our own unreaped child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let start = Instant::now();
    while start.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A private Docker daemon: `dockerd` with scratch data, exec and pid paths and its own
/// unix socket, no networking set up (`--iptables=false --bridge=none`): containers run
/// with `--network none`. It starts its own `containerd` under the exec root, which
/// exits with it.
pub struct Dockerd {
    // Declared before `dir` so the daemon stops before its directories go.
    child: Child,
    sock: PathBuf,
    dir: tempfile::TempDir,
}

impl Dockerd {
    /// Start the daemon and wait until it answers.
    #[track_caller]
    pub fn start() -> Dockerd {
        require_root();
        require_tool("dockerd");
        require_tool("docker");
        let dir = tempdir();
        let d = dir.path();
        let sock = d.join("docker.sock");
        let log = d.join("dockerd.log");
        let config = d.join("daemon.json");
        std::fs::write(&config, "{}").unwrap();
        let mut c = Command::new("dockerd");
        c.arg("--data-root")
            .arg(d.join("root"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("dockerd.pid"))
            .arg("--host")
            .arg(format!("unix://{}", sock.display()))
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--ip-forward=false",
                "--ip-masq=false",
                "--bridge=none",
                "--storage-driver=overlay2",
            ])
            // An empty config of our own: nothing from the host's /etc/docker.
            .arg("--config-file")
            .arg(&config)
            .stdin(Stdio::null());
        let out = std::fs::File::create(&log).unwrap();
        c.stdout(out.try_clone().unwrap()).stderr(out);
        die_with_parent(&mut c);
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start dockerd: {e}"));
        let mut me = Dockerd { child, sock, dir };
        let probe = me.docker_probe();
        let child = &mut me.child;
        wait_for(
            "dockerd",
            &log,
            || matches!(child.try_wait(), Ok(None)),
            || {
                let mut p = Command::new("docker");
                p.envs(probe.iter().cloned())
                    .args(["version", "--format", "{{.Server.Version}}"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                p.status().is_ok_and(|s| s.success())
            },
        );
        me
    }

    fn docker_probe(&self) -> Vec<(String, String)> {
        vec![
            (
                "DOCKER_HOST".into(),
                format!("unix://{}", self.sock.display()),
            ),
            (
                "DOCKER_CONFIG".into(),
                self.dir.path().join("cli").display().to_string(),
            ),
        ]
    }

    /// A `docker` command that talks to this daemon only (its own socket and CLI
    /// config dir; nothing from the host's `~/.docker`).
    pub fn docker(&self) -> Command {
        let mut c = Command::new("docker");
        c.envs(self.docker_probe());
        c
    }

    /// The socket of the containerd this dockerd started for itself.
    pub fn containerd_socket(&self) -> PathBuf {
        self.dir.path().join("exec/containerd/containerd.sock")
    }

    /// A `ctr` command on that containerd, in namespace `ns`.
    pub fn ctr(&self, ns: &str) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(self.containerd_socket())
            .args(["--namespace", ns]);
        c
    }

    /// The daemon's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    /// `docker load -i archive`, asserting it worked; returns what docker printed.
    #[track_caller]
    pub fn load(&self, archive: &Path) -> String {
        let mut c = self.docker();
        c.args(["load", "-i"]).arg(archive);
        run(c).ok().stdout()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // Containers first (a running one would keep mounts busy), then the daemon by
        // its pid; dockerd unmounts its layers and stops its containerd on SIGTERM.
        let mut c = self.docker();
        c.args(["ps", "-aq"]).stderr(Stdio::null());
        if let Ok(out) = c.output() {
            let ids = String::from_utf8_lossy(&out.stdout).into_owned();
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if !ids.is_empty() {
                let mut rm = self.docker();
                rm.args(["rm", "-f"]).args(&ids).stdout(Stdio::null());
                let _ = rm.stderr(Stdio::null()).status();
            }
        }
        stop(&mut self.child, Duration::from_secs(30));
        unmount_under(self.dir.path());
    }
}

/// Lazily unmount anything still mounted below `dir` (a daemon killed hard can leave
/// overlay or shm mounts), deepest first, so the temp dir can be removed.
fn unmount_under(dir: &Path) {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return;
    };
    let prefix = format!("{}/", dir.display());
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(1))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount").args(["-l", p]).status();
    }
}

/// podman with storage of its own: a fresh `--root`, `--runroot` and `--tmpdir` in a
/// temp dir (podman skips blobs it already stores, so a shared store could hide a bad
/// image), the vfs driver (no mounts to leak), and cgroupfs (no systemd here).
pub struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    #[track_caller]
    pub fn new() -> Podman {
        require_root();
        require_tool("podman");
        Podman { dir: tempdir() }
    }

    /// A `podman` command on this storage. `run` needs
    /// [`Podman::RUN_LIMITS`]: without CAP_SYS_RESOURCE podman cannot raise its
    /// default rlimits.
    pub fn cmd(&self) -> Command {
        let d = self.dir.path();
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("run"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args([
                "--storage-driver=vfs",
                "--cgroup-manager=cgroupfs",
                "--events-backend=file",
            ])
            .env("CONTAINERS_CONF", "/dev/null")
            .env("XDG_CONFIG_HOME", d.join("config"));
        c
    }

    /// The `podman run` options every run here needs: no network, and rlimits the
    /// machine lets an uncapable podman set.
    pub const RUN_LIMITS: [&'static str; 6] = [
        "--network",
        "none",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
    ];
}

impl Drop for Podman {
    fn drop(&mut self) {
        // `run --rm` containers are gone already; a failed test may leave one behind.
        let mut c = self.cmd();
        c.args(["rm", "-af"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = c.status();
        unmount_under(self.dir.path());
    }
}

/// The harness itself: a private dockerd answers on its own socket with its own data
/// root, runs nothing of the host's, and is gone (process and mounts) after the drop;
/// a podman store starts empty.
#[test]
fn private_engines_start_answer_and_stop() {
    let d = Dockerd::start();
    let root = {
        let mut c = d.docker();
        c.args(["info", "--format", "{{.DockerRootDir}}"]);
        run(c).ok().stdout()
    };
    assert_eq!(
        root.trim(),
        d.dir.path().join("root").display().to_string(),
        "{}",
        d.log()
    );
    let mut c = d.docker();
    c.args(["images", "-q"]);
    assert_eq!(run(c).ok().stdout(), "", "a fresh daemon has no images");
    assert!(d.containerd_socket().exists(), "{}", d.log());
    let pid = d.child.id() as libc::pid_t;
    let dir = d.dir.path().to_path_buf();
    drop(d);
    // SAFETY: signal 0 only checks existence; the pid was reaped by the drop.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    assert!(!alive, "dockerd {pid} still runs after the drop");
    assert!(!dir.exists(), "{} left behind", dir.display());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(
        !mounts.contains(&dir.display().to_string()),
        "mounts left under {}",
        dir.display()
    );

    let p = Podman::new();
    let mut c = p.cmd();
    c.args(["images", "-q"]);
    assert_eq!(
        run(c).ok().stdout(),
        "",
        "a fresh podman store has no images"
    );
}
