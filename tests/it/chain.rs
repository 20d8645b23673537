//! Chains of execs, user switches and forks (`verify --then`), and `fcap run`,
//! against the kernel: every chain is built and run for real, each link printing its
//! own /proc/self/status, and compared with what verify predicted for that link.

use crate::util::{
    SplitMix, cp, fcap_run, random_run, require_root, require_tool, run, setcap_on, tempdir,
    write_exec,
};
use crate::verify::{Caller, capsh_caller, fcap_args, names_to_bits, this_bounding};
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A link program: prints its status between `step` and `end`, then follows the
/// rest of its arguments: `u:UID:GID` switches user as gosu does (setgroups, setgid,
/// setuid) and prints again, `f` forks (the child prints and goes on), `x:PERL` execs
/// that perl copy on this script, `s:SCRIPT` execs a `#!` script. A failed call
/// prints `fail ERRNO`. Set-ID copies of perl run in taint mode: the arguments are
/// untainted and PATH is fixed.
const LINK_PL: &str = r#"
use strict; use warnings; use POSIX ();
$ENV{PATH} = '/usr/bin:/bin';
delete @ENV{qw(IFS CDPATH ENV BASH_ENV)};
@ARGV = map { /\A(.*)\z/s ? $1 : $_ } @ARGV;
my ($me) = $0 =~ /\A(.*)\z/s;
$| = 1;
sub status {
    open(my $f, '<', '/proc/self/status') or die "status: $!";
    my @l = grep { /^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb):/ } <$f>;
    print "step\n", @l, "end\n";
}
sub fail { print "fail ", 0 + $!, "\n"; exit 0 }
status();
while (defined(my $t = shift @ARGV)) {
    if ($t =~ /\Au:(\d+):(\d+)\z/) {
        my ($u, $g) = ($1, $2);
        $! = 0; $) = "$g $g"; fail() if $!;
        defined POSIX::setgid($g) or fail();
        defined POSIX::setuid($u) or fail();
        status();
    } elsif ($t eq 'f') {
        my $pid = fork() // fail();
        if ($pid) { waitpid($pid, 0); exit($? >> 8) }
        status();
    } elsif ($t =~ /\Ax:(.*)\z/s) {
        my $p = $1; exec { $p } $p, $me, @ARGV; fail();
    } elsif ($t =~ /\As:(.*)\z/s) {
        my $p = $1; exec { $p } $p, @ARGV; fail();
    }
}
"#;

/// One file a chain can exec: a copy of perl, or a `#!` script run by one.
struct LinkFile {
    path: PathBuf,
    script: bool,
    what: String,
}

/// The perl copies (capabilities, set-ID bits) and scripts the random chains pick
/// from, made once in `dir`.
fn link_files(dir: &Path) -> Vec<LinkFile> {
    require_tool("perl");
    let pl = dir.join("link.pl");
    std::fs::write(&pl, LINK_PL).unwrap();
    std::fs::set_permissions(&pl, std::fs::Permissions::from_mode(0o644)).unwrap();
    // (caps for setcap or none, mode, owner, group)
    let shapes: [(Option<&str>, u32, u32, u32); 10] = [
        (None, 0o755, 0, 0),
        (Some("cap_net_bind_service=ep"), 0o755, 0, 0),
        (
            Some("cap_net_bind_service,cap_setuid,cap_setgid=ep"),
            0o755,
            0,
            0,
        ),
        (Some("cap_net_bind_service=p"), 0o755, 0, 0),
        (Some("="), 0o755, 0, 0),
        (None, 0o4755, 0, 0),
        (None, 0o4755, 65534, 65534),
        (None, 0o2755, 0, 4343),
        (
            Some("cap_net_bind_service,cap_setuid,cap_setgid=ei"),
            0o755,
            0,
            0,
        ),
        (
            Some("cap_sys_resource,cap_net_bind_service=ep"),
            0o755,
            0,
            0,
        ),
    ];
    let mut files = Vec::new();
    for (i, (caps, mode, uid, gid)) in shapes.iter().enumerate() {
        let p = dir.join(format!("perl{i}"));
        cp(Path::new("/usr/bin/perl"), &p);
        chown(&p, Some(*uid), Some(*gid)).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
        if let Some(c) = caps {
            setcap_on(&p, &[c]);
        }
        let what = format!("perl{i} ({}, {mode:o})", caps.unwrap_or("no caps"));
        // A script whose interpreter is this copy (its own xattr would not count).
        let s = dir.join(format!("script{i}"));
        write_exec(&s, format!("#!{}\n{LINK_PL}", p.display()).as_bytes());
        if i == 0 {
            setcap_on(&s, &["cap_net_bind_service=ep"]);
        }
        files.push(LinkFile {
            path: p,
            script: false,
            what: what.clone(),
        });
        files.push(LinkFile {
            path: s,
            script: true,
            what: format!("script on {what}"),
        });
    }
    files
}

/// A link of a random chain.
#[derive(Clone, Debug)]
enum Link {
    Exec(usize),
    User(u32, u32),
    Fork,
}

/// What one link did for real: its status, or the errno of the call that failed.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    ok: bool,
    sets: [u64; 5],
    ids: [u32; 4],
}

/// The observed steps, from the link programs' output.
fn seen_steps(out: &str) -> (Vec<Seen>, Option<i32>) {
    let mut steps = Vec::new();
    let mut fail = None;
    let mut cur: Option<Vec<&str>> = None;
    for l in out.lines() {
        match (l, &mut cur) {
            ("step", _) => cur = Some(Vec::new()),
            ("end", Some(lines)) => {
                let field = |k: &str| {
                    lines
                        .iter()
                        .find_map(|l| l.strip_prefix(k))
                        .unwrap()
                        .trim()
                        .to_string()
                };
                let hex = |k: &str| u64::from_str_radix(&field(k), 16).unwrap();
                let ids = |k: &str| -> Vec<u32> {
                    field(k)
                        .split_whitespace()
                        .map(|x| x.parse().unwrap())
                        .collect()
                };
                let (u, g) = (ids("Uid:"), ids("Gid:"));
                steps.push(Seen {
                    ok: true,
                    sets: ["CapPrm:", "CapEff:", "CapInh:", "CapAmb:", "CapBnd:"].map(hex),
                    ids: [u[0], u[1], g[0], g[1]],
                });
                cur = None;
            }
            (_, Some(lines)) => lines.push(l),
            (l, None) => {
                if let Some(e) = l.strip_prefix("fail ") {
                    fail = Some(e.trim().parse().unwrap());
                }
            }
        }
    }
    (steps, fail)
}

/// verify's steps in the same shape.
fn predicted_steps(v: &serde_json::Value) -> Vec<(String, Seen)> {
    v["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps in {v}"))
        .iter()
        .map(|s| {
            let ok = s["exec"] == "ok";
            let bits = |k: &str| names_to_bits(&s[k]);
            let id = |k: &str| s[k].as_u64().unwrap() as u32;
            (
                s["exec"].as_str().unwrap().to_string(),
                Seen {
                    ok,
                    sets: [
                        "permitted",
                        "effective",
                        "inheritable",
                        "ambient",
                        "bounding",
                    ]
                    .map(bits),
                    ids: ["uid", "euid", "gid", "egid"].map(id),
                },
            )
        })
        .collect()
}

/// A random chain of 2 to 4 links, the first an exec.
fn random_chain(rng: &mut SplitMix, files: usize) -> Vec<Link> {
    let n = 2 + (rng.next() % 3) as usize;
    let mut links = vec![Link::Exec((rng.next() % files as u64) as usize)];
    while links.len() < n {
        links.push(match rng.next() % 10 {
            0..=5 => Link::Exec((rng.next() % files as u64) as usize),
            6 | 7 => {
                let (u, g) = *rng.pick(&[(65534, 65534), (4343, 4343), (0, 0)]);
                Link::User(u, g)
            }
            _ => Link::Fork,
        });
    }
    links
}

/// The argument words of a chain for the link program, after the first link.
fn tokens(links: &[Link], files: &[LinkFile]) -> Vec<String> {
    links
        .iter()
        .map(|l| match l {
            Link::Exec(i) if files[*i].script => format!("s:{}", files[*i].path.display()),
            Link::Exec(i) => format!("x:{}", files[*i].path.display()),
            Link::User(u, g) => format!("u:{u}:{g}"),
            Link::Fork => "f".to_string(),
        })
        .collect()
}

/// Build and run one chain for real, from the caller `c`; and ask verify about it.
fn check_chain(c: &Caller, links: &[Link], files: &[LinkFile], dir: &Path, what: &str) -> String {
    let Link::Exec(first) = links[0] else {
        unreachable!("chains start with an exec")
    };
    let first = &files[first];
    let mut cmd = capsh_caller(c);
    cmd.arg("exec \"$@\"").arg("sh").arg(&first.path);
    if !first.script {
        cmd.arg(dir.join("link.pl"));
    }
    cmd.args(tokens(&links[1..], files));
    let r = run(cmd);
    let (seen, fail) = seen_steps(&r.stdout());

    let mut args = fcap_args(c, &first.path);
    for l in &links[1..] {
        match l {
            Link::Exec(i) => {
                args.extend(["--then".to_string(), files[*i].path.display().to_string()])
            }
            Link::User(u, g) => args.extend(["--then-user".to_string(), format!("{u}:{g}")]),
            Link::Fork => args.push("--then-fork".to_string()),
        }
    }
    let v = fcap_run(&args);
    assert!(
        v.code() == 0 || v.code() == 1,
        "`{}`: {}",
        v.cmd,
        v.stderr()
    );
    let v: serde_json::Value = serde_json::from_str(&v.stdout()).unwrap();
    let want = predicted_steps(&v);
    let chain: Vec<String> = links
        .iter()
        .map(|l| match l {
            Link::Exec(i) => files[*i].what.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    let ctx = format!(
        "{what}\ncaller {c:?}\nchain {chain:#?}\nfcap {args:?}\nreal output:\n{}{}",
        r.stdout(),
        r.stderr()
    );
    // Every link verify says runs, ran with exactly the predicted state.
    let ran: Vec<&(String, Seen)> = want.iter().filter(|(e, _)| e == "ok").collect();
    assert_eq!(
        ran.len(),
        seen.len(),
        "verify predicts {} links running, {} ran\n{ctx}",
        ran.len(),
        seen.len()
    );
    for (i, ((_, w), s)) in ran.iter().zip(&seen).enumerate() {
        assert_eq!(
            w,
            s,
            "link {} differs (left verify, right kernel)\n{ctx}",
            i + 1
        );
    }
    // A failing link is the last verify predicts, with the errno the kernel gave.
    match want.last() {
        Some((e, _)) if e != "ok" => {
            assert_eq!(want.len(), seen.len() + 1, "{ctx}");
            // The first link's exec is the shell's (no errno printed).
            if want.len() > 1 {
                let errno = fail.unwrap_or_else(|| panic!("no failure seen\n{ctx}"));
                assert_eq!(
                    e,
                    &fcap::error::errno_name(errno).to_lowercase(),
                    "failing link's errno\n{ctx}"
                );
            }
            format!("fails at {}", want.len())
        }
        _ => {
            assert_eq!(want.len(), links.len(), "{ctx}");
            assert_eq!(fail, None, "{ctx}");
            "runs".to_string()
        }
    }
}

#[test]
fn random_chains_match_the_kernel() {
    require_root();
    require_tool("capsh");
    let (seed, cases, mut rng) = random_run("FCAP_CHAIN", "chain differential test", 30);
    let bounding = this_bounding();
    let dir = tempdir();
    let files = link_files(dir.path());
    let pool: Vec<u32> = [0u32, 6, 7, 10]
        .into_iter()
        .filter(|c| bounding & (1 << c) != 0)
        .collect();
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for k in 0..cases {
        let root = rng.chance(40);
        let c = Caller {
            root,
            inh: rng.subset(&pool, 25),
            amb: rng.subset(&pool, 40),
            drop: rng.subset(&pool, 15),
            nnp: rng.chance(25),
            noroot: rng.chance(10),
            explicit_user: true,
        };
        let links = random_chain(&mut rng, files.len());
        let o = check_chain(
            &c,
            &links,
            &files,
            dir.path(),
            &format!("chain {k}, FCAP_CHAIN_SEED={seed}"),
        );
        *outcomes.entry(o).or_default() += 1;
    }
    eprintln!("{cases} chains: {outcomes:?}");
    // A run where every chain failed at once would test one link only.
    assert!(
        outcomes.get("runs").copied().unwrap_or(0) > cases / 5,
        "{outcomes:?}"
    );
}

/// Where PATH finds `name`.
fn on_path(name: &str) -> PathBuf {
    require_tool(name);
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap()
}

/// The `CapAmb` line of a status dump (the first one in `out`).
fn cap_amb(out: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix("CapAmb:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap_or_else(|| panic!("no CapAmb line in {out:?}"))
}

const NET_BIND: u64 = 1 << 10;

/// A shell script run as root in a new network namespace with loopback up; fcap is
/// `$FCAP`.
fn in_netns(script: &str) -> crate::util::Run {
    require_tool("unshare");
    require_tool("ip");
    let mut c = Command::new("unshare");
    c.args(["-n", "sh", "-c"])
        .arg(format!("ip link set lo up || exit 99\n{script}"))
        .env("FCAP", env!("CARGO_BIN_EXE_fcap"));
    run(c)
}

/// A directory for a service run as nobody: an h2o config serving one file from
/// port 80.
fn h2o_site(dir: &Path) -> PathBuf {
    let www = dir.join("www");
    std::fs::create_dir(&www).unwrap();
    std::fs::write(www.join("index.html"), "served by h2o through perl\n").unwrap();
    let conf = dir.join("h2o.conf");
    std::fs::write(
        &conf,
        format!(
            "listen: 80\nhosts:\n  default:\n    paths:\n      /:\n        file.dir: {}\n",
            www.display()
        ),
    )
    .unwrap();
    for p in [&www, &conf, &www.join("index.html")] {
        let mode = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    conf
}

/// The H2O story: `h2o -m master` execs start_server (a `#!/bin/sh` script), which
/// execs perl, which binds the ports. A file capability on h2o dies at the sh link;
/// an ambient capability from `fcap run` reaches perl. verify predicts both.
#[test]
fn h2o_master_binds_80_with_fcap_run_and_not_with_setcap() {
    require_root();
    require_tool("h2o");
    require_tool("perl");
    let start_server = Path::new("/usr/share/h2o/start_server");
    assert!(
        start_server.exists(),
        "{} missing: install the Debian package h2o",
        start_server.display()
    );
    require_tool("start_server");
    require_tool("curl");
    let d = tempdir();
    let conf = h2o_site(d.path());
    let capped = d.path().join("h2o");
    cp(Path::new("/usr/bin/h2o"), &capped);
    setcap_on(&capped, &["cap_net_bind_service+ep"]);

    // setcap on h2o: start_server's perl cannot bind.
    let r = in_netns(&format!(
        "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- {} -m master -c {}",
        capped.display(),
        conf.display()
    ));
    assert_ne!(r.code(), 0, "h2o master with setcap bound port 80?");
    assert!(
        r.stderr()
            .contains("failed to bind to 0.0.0.0:80:Permission denied"),
        "{}",
        r.stderr()
    );
    // ... as verify predicts over the chain, at the perl link.
    let chain = ["--then", "/usr/share/h2o/start_server", "--then", "perl"];
    let mut args = vec![
        "verify",
        "--json",
        capped.to_str().unwrap(),
        "--user",
        "nobody",
    ];
    args.extend(chain);
    args.extend(["--require", "net_bind_service"]);
    let v = fcap_run(&args);
    v.status(1);
    let v: serde_json::Value = serde_json::from_str(&v.stdout()).unwrap();
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3);
    assert_eq!(
        steps[0]["effective"],
        serde_json::json!(["cap_net_bind_service"])
    );
    assert_eq!(steps[1]["chain"][1], "/usr/bin/dash", "{}", steps[1]);
    assert!(steps[2]["path"].as_str().unwrap().ends_with("/perl"));
    assert_eq!(steps[2]["effective"], serde_json::json!([]));
    assert_eq!(v["missing"], serde_json::json!(["cap_net_bind_service"]));
    assert_eq!(v["lost"][0]["step"], 1, "{}", v["lost"]);
    assert_eq!(v["lost"][0]["code"], "caller-lost");
    // The fixes name the binding program and fcap run, and each works (below).
    let hints: Vec<&str> = v["hints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert!(
        hints
            .iter()
            .any(|h| h.contains("fcap grant cap_net_bind_service /usr/bin/perl")),
        "{hints:?}"
    );
    let run_hint = format!(
        "fcap revoke all {}; then fcap run --user nobody --ambient cap_net_bind_service -- {}",
        capped.display(),
        capped.display()
    );
    assert!(hints.iter().any(|h| h.contains(&run_hint)), "{hints:?}");

    // fcap run with the ambient capability and no file capability on h2o: perl
    // binds, the worker serves, fetched over loopback.
    let plain = "/usr/bin/h2o";
    let r = in_netns(&format!(
        r#"$FCAP run --user nobody --ambient net_bind_service -- {plain} -m master -c {conf} &
pid=$!
i=0
until out=$(curl -sf http://127.0.0.1:80/); do
  i=$((i+1)); [ $i -gt 300 ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
echo "fetched: $out"
kill -TERM $pid; wait $pid"#,
        conf = conf.display()
    ));
    assert!(
        r.stdout().contains("fetched: served by h2o through perl"),
        "stdout {}\nstderr {}",
        r.stdout(),
        r.stderr()
    );
    // ... as verify predicts for that caller, and fcap run --explain too.
    let mut args = vec![
        "verify",
        plain,
        "--user",
        "nobody",
        "--ambient",
        "net_bind_service",
    ];
    args.extend(chain);
    args.extend(["--require", "net_bind_service"]);
    fcap_run(&args).ok();
    let mut args = vec![
        "run",
        "--explain",
        "--user",
        "nobody",
        "--ambient",
        "net_bind_service",
    ];
    args.extend(chain);
    args.extend(["--", plain]);
    fcap_run(&args).ok();
    // Server::Starter's own start_server (libserver-starter-perl) is the same kind of
    // link: a perl script that binds, which only an ambient capability reaches.
    let ss = on_path("start_server");
    fcap_run([
        "verify",
        ss.to_str().unwrap(),
        "--user",
        "nobody",
        "--require",
        "net_bind_service",
    ])
    .status(1);
    fcap_run([
        "verify",
        ss.to_str().unwrap(),
        "--user",
        "nobody",
        "--ambient",
        "net_bind_service",
        "--then-fork",
        "--then",
        plain,
        "--require",
        "net_bind_service",
    ])
    .ok();
    // The fcap run hint as given, with the revoke on a copy: refused before, run after.
    let mut args = vec![
        "run",
        "--explain",
        "--user",
        "nobody",
        "--ambient",
        "net_bind_service",
    ];
    args.extend(chain);
    args.extend(["--", capped.to_str().unwrap()]);
    fcap_run(&args).status(1);
    fcap_run(["revoke", "all", capped.to_str().unwrap()]).ok();
    fcap_run(&args).ok();
}

/// Node.js behind a shell wrapper under fcap run binds port 80 with no xattr on node;
/// a gosu-style user switch (setgroups, setgid, setuid) on the way loses it, as
/// verify says, with the fix.
#[test]
fn node_through_a_wrapper_binds_and_a_gosu_switch_loses_it() {
    require_root();
    require_tool("node");
    let node = on_path("node");
    assert_eq!(
        crate::util::raw_xattr(&node),
        None,
        "node has file capabilities here"
    );
    let bind = "require('net').createServer().listen(80, () => { console.log('bound 80'); process.exit(0) }).on('error', e => { console.log(e.code); process.exit(3) })";
    let r = in_netns(&format!(
        "$FCAP run --user nobody --ambient net_bind_service -- sh -c 'exec node -e \"$0\"' \"{bind}\""
    ));
    assert_eq!(r.stdout().trim(), "bound 80", "{}", r.stderr());
    r.ok();
    fcap_run([
        "verify",
        "/bin/sh",
        "--user",
        "nobody",
        "--ambient",
        "net_bind_service",
        "--then",
        "node",
        "--require",
        "net_bind_service",
    ])
    .ok();

    // npm start: npm (a node script through env) runs `sh -c 'node server.js'`.
    require_tool("npm");
    let d = tempdir();
    let app = d.path();
    std::fs::write(
        app.join("package.json"),
        r#"{"name":"app","version":"1.0.0","scripts":{"start":"node server.js"}}"#,
    )
    .unwrap();
    std::fs::write(app.join("server.js"), bind).unwrap();
    for f in ["package.json", "server.js"] {
        std::fs::set_permissions(app.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    // npm writes logs under HOME: nobody's own.
    let home = app.join("home");
    std::fs::create_dir(&home).unwrap();
    chown(&home, Some(65534), Some(65534)).unwrap();
    let r = in_netns(&format!(
        "cd {} && HOME={} $FCAP run --user nobody --ambient net_bind_service -- npm start --silent",
        app.display(),
        home.display()
    ));
    assert_eq!(r.stdout().trim(), "bound 80", "{}", r.stderr());
    r.ok();
    let npm = on_path("npm");
    fcap_run([
        "verify",
        npm.to_str().unwrap(),
        "--user",
        "nobody",
        "--ambient",
        "net_bind_service",
        "--then",
        "/bin/sh",
        "--then",
        "node",
        "--require",
        "net_bind_service",
    ])
    .ok();

    // gosu's way: the root process switches user itself, then execs node.
    let gosu = r#"use POSIX; $) = "65534 65534"; POSIX::setgid(65534) or die; POSIX::setuid(65534) or die; exec "node", "-e", $ARGV[0]"#;
    let r = in_netns(&format!(
        "$FCAP run --ambient net_bind_service -- perl -e '{gosu}' \"{bind}\""
    ));
    assert_eq!(r.stdout().trim(), "EACCES", "{}", r.stderr());
    let v = fcap_run([
        "verify",
        "--json",
        "/usr/bin/perl",
        "--user",
        "root",
        "--ambient",
        "net_bind_service",
        "--then-user",
        "nobody",
        "--then",
        "node",
        "--require",
        "net_bind_service",
    ]);
    v.status(1);
    let v: serde_json::Value = serde_json::from_str(&v.stdout()).unwrap();
    assert_eq!(v["steps"][1]["link"], "user");
    assert_eq!(v["steps"][1]["ambient"], serde_json::json!([]));
    assert_eq!(v["lost"][0]["step"], 1);
    assert!(
        v["lost"][0]["code"]
            .as_str()
            .unwrap()
            .starts_with("setuid-clears"),
        "{}",
        v["lost"]
    );
    let fix = "replace the user switch to nobody with fcap run --user nobody --ambient cap_net_bind_service -- ";
    assert!(
        v["hints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h.as_str().unwrap().starts_with(fix)),
        "{}",
        v["hints"]
    );
    // That fix, done: the switch by fcap run keeps it.
    let r = in_netns(&format!(
        "$FCAP run --user nobody --ambient net_bind_service -- node -e \"{bind}\""
    ));
    assert_eq!(r.stdout().trim(), "bound 80", "{}", r.stderr());
}

/// Every way setpriv and capsh exit 0 without the ambient capability they were asked
/// for: fcap run either cannot be misused that way (it sets the inheritable set and
/// raises after the switch itself) or refuses.
#[test]
fn fcap_run_never_exits_0_without_the_ambient_set_where_setpriv_and_capsh_do() {
    require_root();
    require_tool("setpriv");
    require_tool("capsh");
    let d = tempdir();
    let grep = |name: &str| {
        let p = d.path().join(name);
        cp(Path::new("/usr/bin/grep"), &p);
        p
    };
    let plain = grep("grep");
    let fcapped = grep("grep-fcap");
    setcap_on(&fcapped, &["cap_kill+ep"]);
    let setuid = grep("grep-setuid");
    // Owned by root: running it changes the ids of a process of nobody.
    chown(&setuid, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&setuid, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let status = "/proc/self/status";
    let setpriv = |inh: bool, target: &Path| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        if inh {
            c.arg("--inh-caps=+net_bind_service");
        }
        c.arg("--ambient-caps=+net_bind_service")
            .arg("--")
            .arg(target)
            .args(["CapAmb", status]);
        run(c)
    };
    let fcap = |target: &Path| {
        fcap_run([
            "run",
            "--user",
            "nobody",
            "--ambient",
            "net_bind_service",
            "--",
            target.to_str().unwrap(),
            "CapAmb",
            status,
        ])
    };
    // setpriv without --inh-caps: exit 0, nothing raised.
    let r = setpriv(false, &plain);
    r.ok();
    assert_eq!(cap_amb(&r.stdout()), 0);
    let r = fcap(&plain);
    r.ok();
    assert_eq!(cap_amb(&r.stdout()), NET_BIND);
    // capsh with --addamb before --user: exit 0, cleared by the switch.
    let mut c = Command::new("capsh");
    c.args([
        "--inh=cap_net_bind_service",
        "--addamb=cap_net_bind_service",
        "--user=nobody",
        "--",
        "-c",
    ])
    .arg(format!("exec {} CapAmb {status}", plain.display()));
    let r = run(c);
    r.ok();
    assert_eq!(cap_amb(&r.stdout()), 0);
    // A target whose file capabilities or set-ID bit clear the ambient set: setpriv
    // runs it (exit 0, nothing ambient); fcap refuses, naming the cause and the fix.
    for (target, cause) in [
        (&fcapped, "the file has file capabilities"),
        (&setuid, "the set-ID bits change the process's ids"),
    ] {
        let r = setpriv(true, target);
        r.ok();
        assert_eq!(cap_amb(&r.stdout()), 0, "{}", target.display());
        let r = fcap(target);
        r.status(125);
        assert_eq!(r.stdout(), "", "fcap ran {}", target.display());
        assert_eq!(r.stderr().lines().count(), 1, "{}", r.stderr());
        assert!(
            r.stderr().starts_with("fcap: refusing to run"),
            "{}",
            r.stderr()
        );
        assert!(r.stderr().contains(cause), "{}", r.stderr());
        assert!(r.stderr().contains("--force"), "{}", r.stderr());
    }
    assert!(
        fcap(&fcapped)
            .stderr()
            .contains(&format!("fcap revoke all {}", fcapped.display())),
        "no fix named"
    );
    // A script is refused for its interpreter's file capabilities.
    let script = d.path().join("script");
    write_exec(&script, format!("#!{} -c\n", fcapped.display()).as_bytes());
    let r = fcap(&script);
    r.status(125);
    assert!(
        r.stderr().contains("the file has file capabilities"),
        "{}",
        r.stderr()
    );
    // --force runs it anyway (and the kernel clears the ambient set, as predicted).
    let r = fcap_run([
        "run",
        "--force",
        "--user",
        "nobody",
        "--ambient",
        "net_bind_service",
        "--",
        fcapped.to_str().unwrap(),
        "CapAmb",
        status,
    ]);
    r.ok();
    assert_eq!(cap_amb(&r.stdout()), 0);
}

/// A non-root process that holds the capabilities in its permitted and inheritable
/// sets can launch with them; one that lacks one is refused, as is a user switch it
/// may not do.
#[test]
fn fcap_run_works_without_root_when_the_capabilities_are_held() {
    require_root();
    let as_holder = |cmd: &str| {
        let mut c = Command::new("capsh");
        c.args([
            "--keep=1",
            "--user=nobody",
            "--inh=cap_net_bind_service",
            "--addamb=cap_net_bind_service",
            "--",
            "-c",
        ])
        .arg(cmd)
        .env("FCAP", env!("CARGO_BIN_EXE_fcap"));
        run(c)
    };
    // The shell holds it ambient; drop that and keep only P and I, then launch.
    let r = as_holder(
        "exec $FCAP run --ambient net_bind_service -- grep -E '^(Uid|CapAmb|CapEff)' /proc/self/status",
    );
    r.ok();
    assert!(r.stdout().contains("Uid:\t65534"), "{}", r.stdout());
    assert_eq!(cap_amb(&r.stdout()), NET_BIND);
    let r = as_holder("exec $FCAP run --ambient net_bind_service,net_raw -- true");
    r.status(125);
    assert!(
        r.stderr()
            .contains("cap_net_raw not in this process's permitted set"),
        "{}",
        r.stderr()
    );
    let r = as_holder("exec $FCAP run --user root -- true");
    r.status(125);
    assert!(r.stderr().contains("needs cap_setuid"), "{}", r.stderr());
    // A copy of fcap with file capabilities is no launcher for whoever runs it.
    let d = tempdir();
    let copy = d.path().join("fcap");
    cp(Path::new(env!("CARGO_BIN_EXE_fcap")), &copy);
    setcap_on(&copy, &["cap_setuid,cap_setgid,cap_net_bind_service+ep"]);
    let mut c = crate::util::as_nobody(&copy);
    c.args(["run", "--user", "root", "--", "true"]);
    let r = run(c);
    r.status(125);
    assert!(
        r.stderr()
            .starts_with("fcap: refusing to run: fcap was started in secure-execution mode"),
        "{}",
        r.stderr()
    );
    // A non-root process without any capability: --explain says why.
    let mut c = crate::util::as_nobody(env!("CARGO_BIN_EXE_fcap"));
    c.args(["run", "--ambient", "net_bind_service", "--", "true"]);
    let r = run(c);
    r.status(125);
    assert!(
        r.stderr().starts_with("fcap: cannot set up the process:"),
        "{}",
        r.stderr()
    );
}

/// Exit codes as env(1) uses them.
#[test]
fn fcap_run_exit_codes_are_envs() {
    fcap_run(["run", "--", "sh", "-c", "exit 7"]).status(7);
    let r = fcap_run(["run", "--", "no-such-program-here"]);
    r.status(127);
    assert_eq!(
        r.stderr(),
        "fcap: 'no-such-program-here': not found in PATH\n"
    );
    let r = fcap_run(["run", "--", "/etc/passwd"]);
    r.status(126);
    assert_eq!(
        r.stderr(),
        "fcap: '/etc/passwd': cannot execute: Permission denied: the caller (uid 0, gid 0) may not execute '/etc/passwd' (mode 0644, owner 0:0)\n"
    );
    fcap_run(["run", "--", "/no/such/file"]).status(127);
    // On a noexec mount: refused before the exec with the reason (126 all the same
    // with --force, from the kernel).
    require_root();
    let mut c = Command::new("unshare");
    c.args(["-m", "sh", "-c"])
        .arg("mount -t tmpfs -o noexec tmpfs /mnt && cp /bin/true /mnt/true && \"$0\" run -- /mnt/true; echo \"status $?\"; \"$0\" run --force -- /mnt/true; echo \"status $?\"")
        .arg(env!("CARGO_BIN_EXE_fcap"));
    let r = run(c);
    r.ok();
    assert_eq!(r.stdout(), "status 126\nstatus 126\n");
    let stderr = r.stderr();
    let err: Vec<&str> = stderr.lines().collect();
    assert_eq!(err.len(), 2, "{stderr}");
    assert!(
        err[0].starts_with("fcap: '/mnt/true': cannot execute: Permission denied: ")
            && err[0].contains("noexec"),
        "{}",
        err[0]
    );
    assert_eq!(
        err[1],
        "fcap: '/mnt/true': cannot execute: Permission denied"
    );
    let r = fcap_run(["run", "--bogus", "true"]);
    r.status(125);
    assert_eq!(r.stderr().lines().count(), 1, "{}", r.stderr());
    fcap_run(["run", "--user", "no-such-user-here", "--", "true"]).status(125);
    fcap_run(["run", "--ambient", "not_a_cap", "--", "true"]).status(125);
}

/// What --user, --group, --groups, --bounding and --no-new-privs give, read back from
/// the program's own status.
#[test]
fn fcap_run_sets_ids_groups_bounding_and_no_new_privs() {
    require_root();
    let status = |args: &[&str]| {
        let mut a = vec!["run"];
        a.extend(args);
        a.extend([
            "--",
            "grep",
            "-E",
            "^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):",
            "/proc/self/status",
        ]);
        let r = fcap_run(&a);
        r.ok();
        r.stdout().replace('\t', " ")
    };
    let s = status(&[
        "--user",
        "nobody",
        "--group",
        "4343",
        "--groups",
        "4343,0",
        "--ambient",
        "net_bind_service",
        "--bounding",
        "net_bind_service,kill",
        "--no-new-privs",
    ]);
    for want in [
        "Uid: 65534 65534 65534 65534",
        "Gid: 4343 4343 4343 4343",
        "Groups: 0 4343",
        "CapInh: 0000000000000400",
        "CapPrm: 0000000000000400",
        "CapEff: 0000000000000400",
        "CapBnd: 0000000000000420",
        "CapAmb: 0000000000000400",
        "NoNewPrivs: 1",
    ] {
        assert!(s.contains(want), "{want:?} not in\n{s}");
    }
    // --user alone: the account's groups, nothing ambient, nothing permitted.
    let s = status(&["--user", "nobody"]);
    assert!(s.contains("Groups: 65534"), "{s}");
    assert!(s.contains("CapPrm: 0000000000000000"), "{s}");
    // Root stays root: its permitted set is kept, the ambient one added.
    let s = status(&["--ambient", "kill"]);
    assert!(s.contains("Uid: 0 0 0 0"), "{s}");
    assert!(s.contains("CapAmb: 0000000000000020"), "{s}");
    // A capability outside the bounding set asked for: refused before anything.
    let r = fcap_run([
        "run",
        "--bounding",
        "kill",
        "--ambient",
        "net_bind_service",
        "--",
        "true",
    ]);
    r.status(125);
    assert!(
        r.stderr()
            .contains("cap_net_bind_service not in the bounding set"),
        "{}",
        r.stderr()
    );
}

/// The chain fixes verify prints are followed for real, on copies, and then the
/// chain run for real holds the capability at its last link.
#[test]
fn chain_fixes_work_when_followed() {
    require_root();
    let d = tempdir();
    let files = link_files(d.path());
    let pl = d.path().join("link.pl");
    // perl1 has cap_net_bind_service=ep, perl0 nothing (see link_files).
    let capped = files.iter().find(|f| f.path.ends_with("perl1")).unwrap();
    let plain = files.iter().find(|f| f.path.ends_with("perl0")).unwrap();
    let (capped, plain) = (capped.path.clone(), plain.path.clone());
    let last_eff = |out: &str| {
        let (steps, fail) = seen_steps(out);
        assert_eq!(fail, None, "{out}");
        steps.last().unwrap().sets[1]
    };
    let verify = |extra: &[&str]| -> serde_json::Value {
        let mut a = vec!["verify", "--json", capped.to_str().unwrap()];
        a.extend(extra);
        a.extend([
            "--then",
            plain.to_str().unwrap(),
            "--require",
            "net_bind_service",
        ]);
        let r = fcap_run(&a);
        r.status(1);
        serde_json::from_str(&r.stdout()).unwrap()
    };
    let hints = |v: &serde_json::Value| -> Vec<String> {
        v["hints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_string())
            .collect()
    };
    let chain_as_nobody = |amb: bool| {
        let mut c = Command::new("capsh");
        if amb {
            c.args(["--inh=cap_net_bind_service"]);
        }
        c.args(["--keep=1", "--gid=65534", "--groups=", "--uid=65534"]);
        if amb {
            c.args(["--addamb=cap_net_bind_service"]);
        }
        c.args(["--shell=/bin/sh", "--", "-c", "exec \"$@\"", "sh"])
            .arg(&capped)
            .arg(&pl)
            .arg(format!("x:{}", plain.display()));
        run(c).stdout()
    };
    // nobody without ambient: the capability of the first link dies at the second.
    assert_eq!(last_eff(&chain_as_nobody(false)), 0);
    let v = verify(&["--user", "nobody"]);
    let grant = format!("fcap grant cap_net_bind_service {}", plain.display());
    assert!(
        hints(&v).iter().any(|h| h.contains(&grant)),
        "{:?}",
        hints(&v)
    );
    // Ambient from the caller, cleared by the first link's file capability.
    assert_eq!(last_eff(&chain_as_nobody(true)), 0);
    let v = verify(&["--user", "nobody", "--ambient", "net_bind_service"]);
    // The first link's file keeps it in the permitted set, the second drops it; the
    // ambient copy went at the first.
    assert_eq!(v["lost"][0]["step"], 1, "{}", v["lost"]);
    assert_eq!(v["lost"][0]["code"], "caller-lost");
    assert!(
        crate::util::codes(&v["steps"][0]).contains(&"ambient-cleared".to_string()),
        "{}",
        v["steps"][0]
    );
    let revoke = format!("fcap revoke all {}", capped.display());
    assert!(
        hints(&v)
            .iter()
            .any(|h| h.starts_with("remove the file capabilities") && h.contains(&revoke)),
        "{:?}",
        hints(&v)
    );
    // Followed: revoke, and the ambient caller's chain ends with it effective.
    fcap_run(["revoke", "all", capped.to_str().unwrap()]).ok();
    assert_eq!(last_eff(&chain_as_nobody(true)), NET_BIND);
    // The grant fix, followed, for the caller without ambient.
    fcap_run(["grant", "cap_net_bind_service", plain.to_str().unwrap()]).ok();
    assert_eq!(last_eff(&chain_as_nobody(false)), NET_BIND);
    fcap_run(["revoke", "all", plain.to_str().unwrap()]).ok();
    // A unit with AmbientCapabilities= whose program has a file capability: the fix
    // is the revoke, not another unit setting.
    setcap_on(&capped, &["cap_net_bind_service+ep"]);
    let unit = d.path().join("web.service");
    std::fs::write(
        &unit,
        format!(
            "[Service]\nUser=nobody\nAmbientCapabilities=CAP_NET_BIND_SERVICE\nExecStart={} {}\n",
            capped.display(),
            pl.display()
        ),
    )
    .unwrap();
    let r = fcap_run([
        "verify",
        "--json",
        "--unit",
        unit.to_str().unwrap(),
        "--then",
        plain.to_str().unwrap(),
        "--require",
        "net_bind_service",
    ]);
    r.status(1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert!(
        hints(&v).iter().any(|h| h.contains(&revoke)),
        "{:?}",
        hints(&v)
    );
    // The same unit without AmbientCapabilities=: its own fix adds it, and removes
    // the file capability that would clear it.
    std::fs::write(
        &unit,
        format!(
            "[Service]\nUser=nobody\nExecStart={} {}\n",
            capped.display(),
            pl.display()
        ),
    )
    .unwrap();
    let r = fcap_run([
        "verify",
        "--json",
        "--unit",
        unit.to_str().unwrap(),
        "--then",
        plain.to_str().unwrap(),
        "--require",
        "net_bind_service",
    ]);
    r.status(1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    let change = v["fixes"][0]["change"].as_str().unwrap_or_default();
    assert!(
        change.contains("AmbientCapabilities=CAP_NET_BIND_SERVICE") && change.contains(&revoke),
        "{}",
        v["fixes"]
    );
    // fcap run, the launcher hint, from the capped start: refused with the fix.
    let r = fcap_run([
        "run",
        "--user",
        "nobody",
        "--ambient",
        "net_bind_service",
        "--then",
        plain.to_str().unwrap(),
        "--",
        capped.to_str().unwrap(),
        pl.to_str().unwrap(),
    ]);
    r.status(125);
    assert!(r.stderr().contains(&revoke), "{}", r.stderr());
}

/// The distroless recipe: a root holding only the static fcap (and /proc, as every
/// runtime mounts it) has a launcher; the program (fcap itself, the one binary there)
/// reports the ambient set and the uid it was started with.
#[test]
fn fcap_run_launches_in_a_root_that_holds_only_fcap() {
    require_root();
    require_tool("unshare");
    let d = tempdir();
    cp(
        Path::new(env!("CARGO_BIN_EXE_fcap")),
        &d.path().join("fcap"),
    );
    std::fs::create_dir(d.path().join("proc")).unwrap();
    let mut c = Command::new("unshare");
    c.args(["-m", "sh", "-c"])
        .arg("mount --bind /proc \"$1/proc\" && exec chroot \"$1\" /fcap run --user 65532 --ambient net_bind_service -- /fcap verify --json /fcap")
        .arg("sh")
        .arg(d.path());
    let r = run(c);
    r.ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["caller"]["source"], "this process");
    assert_eq!(v["caller"]["uid"], 65532);
    assert_eq!(
        v["caller"]["ambient"],
        serde_json::json!(["cap_net_bind_service"])
    );
    assert_eq!(
        v["caller"]["permitted"],
        serde_json::json!(["cap_net_bind_service"])
    );
}
