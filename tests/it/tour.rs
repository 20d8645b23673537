//! The README's quick tour is real: this test replays every `$ command` of its
//! console blocks, in the README's own directories (a tmpfs on /srv and /etc
//! overlaid, in a private mount and network namespace, so the host is untouched), and
//! compares what they print with the README. A `...` line in the README stands for
//! lines left out (machine-specific ones such as the bounding set). With
//! `FCAP_TOUR_PRINT=1` the test prints the real output of every command, to paste.

use crate::util::*;
use std::process::Command;

/// The console blocks of the tour: (command, expected output lines).
fn tour() -> Vec<(String, Vec<String>)> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("\n## A quick tour")
        .expect("README has a quick tour");
    let end = start
        + readme[start..]
            .find("\nThe commands in detail")
            .expect("end of the tour");
    let mut steps: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_block = false;
    for line in readme[start..end].lines() {
        if line.starts_with("```") {
            in_block = line == "```console";
            continue;
        }
        if !in_block {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            steps.push((cmd.to_string(), Vec::new()));
        } else if let Some(last) = steps.last_mut() {
            last.1.push(line.to_string());
        }
    }
    steps
}

/// True when `actual` matches `expected`, where each `...` line of `expected` stands
/// for any number of lines.
fn matches(expected: &[String], actual: &[&str]) -> bool {
    let parts: Vec<&[String]> = expected.split(|l| l == "...").collect();
    let mut at = 0;
    for (i, part) in parts.iter().enumerate() {
        let first = i == 0;
        let last = i + 1 == parts.len();
        let found = if first {
            actual.len() >= part.len()
                && actual[..part.len()]
                    .iter()
                    .zip(part.iter())
                    .all(|(a, e)| a == e)
        } else {
            let from = (at..=actual.len().saturating_sub(part.len())).find(|&s| {
                actual[s..s + part.len()]
                    .iter()
                    .zip(part.iter())
                    .all(|(a, e)| a == e)
            });
            match from {
                Some(s) => {
                    at = s;
                    true
                }
                None => false,
            }
        };
        if !found {
            return false;
        }
        at += part.len();
        // A trailing `...` leaves the end open.
        let open_end = parts.len() > 1 && part.is_empty();
        if last && !open_end && at != actual.len() {
            return false;
        }
    }
    true
}

#[test]
fn readme_tour_replays_exactly() {
    require_root();
    require_tool("node");
    require_tool("setpriv");
    let steps = tour();
    assert!(
        steps.len() >= 12,
        "only {} tour commands found",
        steps.len()
    );
    let d = tempdir();
    let bin = d.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_fcap"), bin.join("fcap")).unwrap();
    const MARK: &str = "@@fcap-tour@@";
    // The README's machine: /srv/app holds a copy of node (node-22, and node-23 for
    // the upgrade) and a symlink node -> node-22; /etc/fcap.d starts empty.
    let mut script = format!(
        "set -e\n\
         mount -t tmpfs tmpfs /srv\n\
         mount -t tmpfs tmpfs '{scratch}'\n\
         mkdir '{scratch}/up' '{scratch}/work'\n\
         mount -t overlay overlay -o 'lowerdir=/etc,upperdir={scratch}/up,workdir={scratch}/work' /etc\n\
         rm -rf /etc/fcap.d && mkdir /etc/fcap.d\n\
         mkdir /srv/app && cd /srv/app\n\
         cp \"$(command -v node)\" node-22 && cp node-22 node-23 && ln -s node-22 node\n\
         chmod 755 /srv /srv/app\n\
         sudo() {{ \"$@\"; }}\n\
         export PATH='{bin}':\"$PATH\" LC_ALL=C\n\
         set +e\n",
        scratch = d.path().join("etc").display(),
        bin = bin.display()
    );
    std::fs::create_dir(d.path().join("etc")).unwrap();
    for (cmd, _) in &steps {
        // On its own line, so a trailing comment cannot swallow the redirection.
        script += &format!("echo '{MARK}'\n{{\n{cmd}\n}} 2>&1\n");
    }
    // Bounded: a tour command that never ends (a server left listening) is a failure,
    // not a stuck test run.
    let mut c = Command::new("timeout");
    c.args([
        "120",
        "unshare",
        "-m",
        "-n",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
    ]);
    let r = run(c);
    r.ok();
    let out = r.stdout();
    let outputs: Vec<&str> = out.split(&format!("{MARK}\n")).skip(1).collect();
    assert_eq!(outputs.len(), steps.len(), "{out}\n{}", r.stderr());
    let print = std::env::var_os("FCAP_TOUR_PRINT").is_some();
    let mut wrong = Vec::new();
    for ((cmd, want), got) in steps.iter().zip(&outputs) {
        if print {
            println!("$ {cmd}\n{got}");
        }
        let lines: Vec<&str> = got.lines().collect();
        if !matches(want, &lines) {
            wrong.push(format!(
                "$ {cmd}\nREADME:\n{}\nreal:\n{got}",
                want.join("\n")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "the README's tour differs from real runs:\n\n{}",
        wrong.join("\n\n")
    );
}

#[test]
fn elision_matches_only_what_it_should() {
    let e = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(matches(&e(&["a", "...", "d"]), &["a", "b", "c", "d"]));
    assert!(matches(&e(&["a", "..."]), &["a", "b"]));
    assert!(matches(&e(&["a"]), &["a"]));
    assert!(!matches(&e(&["a"]), &["a", "b"]));
    assert!(!matches(&e(&["a", "...", "d"]), &["a", "b", "c"]));
    assert!(!matches(&e(&["x", "..."]), &["a", "b"]));
    assert!(matches(&e(&[]), &[]));
}
