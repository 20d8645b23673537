//! What a new user meets first (issue 12): usage errors, silence after a command,
//! advice that must be runnable, a CI gate that must check something.

use crate::util::*;

/// Every usage error is one line in fcap's style, with the usage and where the help is,
/// and exits 2 (clap's own style is several lines starting with `error:`).
#[test]
fn usage_errors_are_one_fcap_line_with_a_usage_hint() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["grant"],
            "fcap: the following required arguments were not provided: <CAPS> <PATH>... (usage: fcap grant <CAPS> <PATH>...; see 'fcap grant --help')\n",
        ),
        (
            &["read", "--jsn", "x"],
            "fcap: unexpected argument '--jsn' found; tip: a similar argument exists: '--json' (usage: fcap read --json [PATH]...; see 'fcap read --help')\n",
        ),
        (
            &["frob"],
            "fcap: unrecognized subcommand 'frob' (usage: fcap [OPTIONS] <COMMAND>; see 'fcap --help')\n",
        ),
        (
            &["verify", "x", "--profile", "foo"],
            "fcap: invalid value 'foo' for '--profile <NAME>' [possible values: docker, k8s-baseline, k8s-restricted] (see 'fcap verify --help')\n",
        ),
    ];
    for (args, want) in cases {
        fcap_run(*args).status(2).stdout_is("").stderr_is(want);
    }
    // Help and version are not errors.
    let r = fcap_run(["grant", "--help"]);
    r.ok().stderr_is("");
    assert!(r.stdout().contains("Usage: fcap grant"), "{}", r.stdout());
    fcap_run(["--version"]).ok().stderr_is("");
}

/// Every `fcap ...` command line written in the source (hints, errors, warnings, help
/// texts) parses with today's command line, with its words in the right places: the
/// placeholders are replaced by a real capability and a real file, so `fcap grant
/// FILE CAP` (the wrong order) fails here because '/bin/true' is not a capability.
#[test]
fn every_command_fcap_gives_as_advice_parses() {
    use clap::{CommandFactory, Parser};
    use fcap::cli::{Cli, Command};
    let subs: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    let mut files = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    let mut sources = Vec::new();
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else if p.extension().is_some_and(|e| e == "rs") {
            sources.push(p);
        }
    }
    let mut seen = 0;
    for src in &sources {
        let text = std::fs::read_to_string(src).unwrap();
        // Unit tests quote pieces of messages; stop where they start.
        let text = text.split("#[cfg(test)]").next().unwrap();
        for (n, line) in text.lines().enumerate() {
            // Comments describe; only what fcap prints is advice.
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (i, _) in line.match_indices("fcap ") {
                let rest = &line[i..];
                let Some(sub) = rest.split_whitespace().nth(1) else {
                    continue;
                };
                if !subs.iter().any(|s| s == sub) {
                    continue;
                }
                // The command ends where the prose or the shell syntax resumes.
                // A command quoted in prose ('fcap read -r') ends at its quote.
                let quote: &[&str] = if line[..i].ends_with('\'') {
                    &["'"]
                } else {
                    &[]
                };
                let end = [")", ";", "\"", "`", ", ", ". ", " |", " >", " &&", " \\"]
                    .iter()
                    .chain(quote)
                    .filter_map(|t| rest.find(t))
                    .min()
                    .unwrap_or(rest.len());
                let cmd = &rest[..end];
                let argv = words(cmd, sub);
                let at = format!("{}:{}: `{cmd}`", src.display(), n + 1);
                let cli = match Cli::try_parse_from(&argv) {
                    Ok(cli) => cli,
                    // Advice that ends in --help ('see fcap audit --help') is a real
                    // command too: clap answers it with the help text.
                    Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
                        seen += 1;
                        continue;
                    }
                    Err(e) => panic!("{at} does not parse:\n{}", e.render()),
                };
                match &cli.command {
                    Command::Grant(a) => {
                        fcap::capspec::parse_grant(&a.caps)
                            .unwrap_or_else(|e| panic!("{at}: CAPS {:?}: {e}", a.caps));
                    }
                    Command::Revoke(a) => {
                        fcap::capspec::parse_revoke(&a.caps)
                            .unwrap_or_else(|e| panic!("{at}: CAPS {:?}: {e}", a.caps));
                    }
                    Command::Set(a) => {
                        fcap::text::parse(&a.expr)
                            .unwrap_or_else(|e| panic!("{at}: EXPR {:?}: {e}", a.expr));
                    }
                    _ => {}
                }
                seen += 1;
            }
        }
    }
    assert!(seen >= 10, "only {seen} commands found in the source");
}

/// Shell words of an advice command, with its placeholders made real: a capability
/// (list or text, as `sub` takes it) for CAPS/CAP/TEXT/EXPR and format arguments, a file for FILE/PATH and `{p}`.
fn words(cmd: &str, sub: &str) -> Vec<String> {
    // `set` takes libcap text; grant and revoke take a list (grant adds ep).
    let cap = if sub == "set" {
        "cap_chown=ep"
    } else {
        "cap_chown"
    };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in cmd.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .map(|w| match w.as_str() {
            "CAPS" | "CAP" | "TEXT" | "EXPR" => cap.to_string(),
            "FILE" | "PATH" | "{p}" | "{path}" => "/bin/true".to_string(),
            "MANIFEST" => "/dev/null".to_string(),
            w if w.starts_with('{') && w.ends_with('}') => cap.to_string(),
            w => w.to_string(),
        })
        .collect()
}

/// verify's "give the capabilities to the program" hint names this file in the
/// order the CLI takes (`fcap grant CAPS FILE`), and is not given when the file
/// already has capabilities that do not apply (a script: its own hint says why).
#[test]
fn verify_hints_grant_only_to_a_file_without_capabilities() {
    require_root();
    let d = tempdir();
    let plain = copy_prog(d.path(), "plain");
    let hints = |p: &std::path::Path| {
        let r = fcap_run([
            os("verify"),
            p.as_os_str(),
            os("--user"),
            os("nobody"),
            os("--json"),
        ]);
        r.status(0);
        r.json_lines()[0]["hints"].clone()
    };
    let h = hints(&plain);
    let want = format!("fcap grant CAPS {})", plain.display());
    assert!(
        h.as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().contains(&want)),
        "no {want:?} in {h}"
    );
    let script = d.path().join("script");
    write_exec(&script, b"#!/bin/sh\necho hi\n");
    setcap_on(&script, &["cap_net_raw=ep"]);
    let h = hints(&script);
    assert!(!h.to_string().contains("fcap grant"), "{h}");
    assert!(
        h.to_string()
            .contains("capabilities on a script do nothing"),
        "{h}"
    );
}

/// A CI gate over zero manifest lines is an error, whatever the reason (no directory,
/// a mistyped --config-dir, an empty one, an empty manifest), unless --allow-empty
/// says it is meant, or --root gives it something to check.
#[test]
fn check_over_nothing_is_an_error_unless_asked_for() {
    let d = tempdir();
    let empty_dir = d.path().join("fcap.d");
    std::fs::create_dir(&empty_dir).unwrap();
    let comments = d.path().join("only-comments.caps");
    std::fs::write(&comments, "# nothing yet\n").unwrap();
    let typo = d.path().join("fcap.dd");
    let cases: Vec<(Vec<&std::ffi::OsStr>, String)> = vec![
        (
            vec![os("--system"), os("--config-dir"), typo.as_os_str()],
            format!("'{}' (it does not exist)", typo.display()),
        ),
        (
            vec![os("--system"), os("--config-dir"), empty_dir.as_os_str()],
            format!("'{}' (it holds no *.caps file)", empty_dir.display()),
        ),
        (
            vec![comments.as_os_str()],
            format!("'{}'", comments.display()),
        ),
    ];
    for (args, said) in cases {
        let mut argv = vec![os("check")];
        argv.extend(&args);
        fcap_run(&argv).status(2).stdout_is("").stderr_is(&format!(
            "fcap: nothing to check: no manifest line in {said}; such a check passes whatever the files carry (pass --allow-empty if that is intended)\n"
        ));
        argv.push(os("--allow-empty"));
        fcap_run(&argv).ok().stdout_is("").stderr_is("");
    }
    // With --root the empty manifest means "nothing here may carry capabilities".
    fcap_run([
        os("check"),
        comments.as_os_str(),
        os("--root"),
        empty_dir.as_os_str(),
    ])
    .ok()
    .stderr_is("");
}

/// The README's own sequence: grant through a symlink, then read the symlink. The
/// getcap-style lines stay exactly getcap's (nothing for a symlink or a directory,
/// "(Not a regular file)" with -v), and a note on stderr says where the link leads,
/// what that file has and how to read it; `-l` follows the link and names both.
#[test]
fn read_of_a_symlink_or_directory_never_ends_in_silence() {
    require_root();
    let d = tempdir();
    let real = copy_prog(d.path(), "node-22");
    let link = d.path().join("node");
    std::os::unix::fs::symlink("node-22", &link).unwrap();
    fcap_run([os("grant"), os("cap_net_bind_service"), link.as_os_str()]).ok();
    for v in [false, true] {
        let mut args = vec![os("read")];
        let mut gargs = Vec::new();
        if v {
            args.push(os("-v"));
            gargs.push(os("-v"));
        }
        args.extend([link.as_os_str(), d.path().as_os_str()]);
        gargs.extend([link.as_os_str(), d.path().as_os_str()]);
        let r = fcap_run(&args);
        r.ok().stdout_is(&getcap(&gargs)).stderr_is(&format!(
            "fcap: note: '{l}' is a symlink to '{t}', which has cap_net_bind_service=ep; like getcap, read does not follow it: 'fcap read -L {l}' reads the file it points to\n\
             fcap: note: '{d}' is a directory: 'fcap read -r {d}' reads the files in it\n",
            l = link.display(),
            t = real.display(),
            d = d.path().display()
        ));
    }
    let r = fcap_run([os("read"), os("-l"), link.as_os_str()]);
    r.ok().stderr_is("");
    assert!(
        r.stdout().starts_with(&format!(
            "{} -> {}  cap_net_bind_service=ep\n  cap_net_bind_service  permitted,effective",
            link.display(),
            real.display()
        )),
        "{}",
        r.stdout()
    );
    // A link met during -r is still never followed (only the real file is listed).
    fcap_run([os("read"), os("-r"), d.path().as_os_str()])
        .ok()
        .stderr_is("")
        .stdout_is(&format!("{} cap_net_bind_service=ep\n", real.display()));
}

/// The human view always says something, and --json gives every named path a record
/// with the same fields (a symlink's included, with where it leads).
#[test]
fn read_long_and_json_answer_for_every_named_path() {
    let d = tempdir();
    let plain = copy_prog(d.path(), "plain");
    let link = d.path().join("link");
    std::os::unix::fs::symlink("plain", &link).unwrap();
    let dangling = d.path().join("dangling");
    std::os::unix::fs::symlink("nowhere", &dangling).unwrap();
    let r = fcap_run([
        os("read"),
        os("-l"),
        plain.as_os_str(),
        d.path().as_os_str(),
    ]);
    r.ok().stderr_is("").stdout_is(&format!(
        "{p}  no capabilities\n{d}  a directory: 'fcap read -r -l {d}' reads the files in it\n",
        p = plain.display(),
        d = d.path().display()
    ));
    let r = fcap_run([
        os("read"),
        os("--json"),
        plain.as_os_str(),
        link.as_os_str(),
        dangling.as_os_str(),
        d.path().as_os_str(),
    ]);
    r.ok().stderr_is("");
    let recs = r.json_lines();
    assert_eq!(recs.len(), 4, "{}", r.stdout());
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    for rec in &recs {
        assert_eq!(keys(rec), keys(&recs[0]), "{}", r.stdout());
    }
    let field = |i: usize, k: &str| recs[i][k].clone();
    assert_eq!(field(0, "regular"), true);
    assert_eq!(field(1, "regular"), false);
    assert_eq!(field(1, "target"), plain.display().to_string().as_str());
    assert_eq!(field(2, "target"), "nowhere");
    assert_eq!(field(3, "regular"), false);
    assert_eq!(field(3, "target"), serde_json::Value::Null);
}

/// One spelling for each thing: `-n` is --dry-run wherever it exists (read's getcap-
/// style rootid is --rootid), a dry run prints the real run's `(was ...)` shape, and a
/// followed symlink is shown with ls's `->` everywhere (no `→` in any output).
#[test]
fn dash_n_means_dry_run_and_one_arrow_is_used() {
    require_root();
    let d = tempdir();
    let f = copy_prog(d.path(), "prog");
    let link = d.path().join("link");
    std::os::unix::fs::symlink("prog", &link).unwrap();
    for sub in ["grant", "revoke"] {
        fcap_run([os(sub), os("-n"), os("cap_kill"), link.as_os_str()]).ok();
    }
    let r = fcap_run([os("grant"), os("-n"), os("cap_kill"), link.as_os_str()]);
    r.ok().stdout_is(&format!(
        "{} -> {}: cap_kill=ep (was none; dry run, nothing written)\n",
        link.display(),
        f.display()
    ));
    assert_eq!(raw_xattr(&f), None, "a dry run wrote");
    fcap_run([os("grant"), os("cap_kill"), link.as_os_str()])
        .ok()
        .stdout_is(&format!(
            "{} -> {}: cap_kill=ep (was none)\n",
            link.display(),
            f.display()
        ));
    fcap_run([os("read"), os("-n"), f.as_os_str()])
        .status(2)
        .stderr_has("unexpected argument '-n'");
    // No other arrow in anything fcap prints.
    for src in [
        "src/cmd/set.rs",
        "src/cmd/read.rs",
        "src/cmd/verify/mod.rs",
        "src/cmd/verify/render.rs",
        "src/cmd/apply.rs",
    ] {
        let text =
            std::fs::read_to_string(format!("{}/{src}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        for l in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            assert!(!l.contains('→'), "{src}: {l}");
        }
    }
}

/// A near miss always names the capability meant: by whole word, substring, case or
/// edit distance, in grant, verify, explain, set's text and manifests; and `set` with
/// grant's syntax (no operator) says what is missing and that grant needs none.
#[test]
fn misspelt_capabilities_suggest_the_right_one() {
    let d = tempdir();
    let f = copy_prog(d.path(), "prog");
    let meant = "(did you mean 'cap_net_bind_service'?)";
    for typed in ["net_bind", "bind", "NET_BIND", "cap_net_bind_servce"] {
        fcap_run([os("grant"), os(typed), f.as_os_str()])
            .status(2)
            .stderr_has(&format!("unknown capability '{typed}' {meant}"));
        fcap_run([os("verify"), f.as_os_str(), os("--require"), os(typed)])
            .status(2)
            .stderr_has(meant);
        fcap_run([os("explain"), os(typed)])
            .status(2)
            .stderr_has(meant);
        fcap_run([os("set"), os(&format!("{typed}=ep")), f.as_os_str()])
            .status(2)
            .stderr_has(meant);
    }
    let m = d.path().join("app.caps");
    std::fs::write(&m, format!("{} cap_net_bind_servce=ep\n", f.display())).unwrap();
    fcap_run([os("check"), m.as_os_str()])
        .status(2)
        .stderr_has("app.caps:1: ")
        .stderr_has(meant);
    fcap_run([os("set"), os("cap_net_bind_service"), f.as_os_str()])
        .status(2)
        .stderr_is("fcap: 'cap_net_bind_service' has no operator: set takes libcap text and replaces everything, e.g. 'cap_net_bind_service=ep' (=ep is effective and permitted, what grant adds by default); to add it and keep the file's other capabilities: fcap grant cap_net_bind_service PATH...\n");
    assert_eq!(raw_xattr(&f), None);
}

/// grant, set and apply warn (on stderr and in --json) when the capabilities they
/// write can do nothing or break the exec: a `#!` script, a nosuid mount, a capability
/// outside the bounding set with the effective bit. Once per file and command, and not
/// again on an (unchanged) run; revoke never warns.
#[test]
fn writes_warn_when_the_capabilities_cannot_work() {
    require_root();
    let d = tempdir();
    let script = d.path().join("script");
    write_exec(&script, b"#!/bin/sh\necho hi\n");
    let script_warning = format!(
        "fcap: warning: '{}' is a script ('#!/bin/sh'): the kernel ignores capabilities on scripts",
        script.display()
    );
    let r = fcap_run([os("grant"), os("cap_net_raw"), script.as_os_str()]);
    r.ok().stderr_has(&script_warning);
    assert_eq!(r.stderr().lines().count(), 1, "{}", r.stderr());
    fcap_run([os("grant"), os("cap_net_raw"), script.as_os_str()])
        .ok()
        .stderr_is("");
    let r = fcap_run([
        os("set"),
        os("--json"),
        os("cap_kill=ep"),
        script.as_os_str(),
    ]);
    r.ok().stderr_has(&script_warning);
    let w = &r.json_lines()[0]["warnings"];
    assert_eq!(w.as_array().unwrap().len(), 1, "{w}");
    assert!(w[0].as_str().unwrap().contains("is a script"), "{w}");
    let r = fcap_run([os("revoke"), os("--json"), os("all"), script.as_os_str()]);
    r.ok().stderr_is("");
    assert_eq!(r.json_lines()[0]["warnings"], serde_json::json!([]));
    let m = d.path().join("app.caps");
    std::fs::write(&m, format!("{} cap_chown=ep\n", script.display())).unwrap();
    fcap_run([os("apply"), m.as_os_str()])
        .ok()
        .stderr_has(&script_warning)
        .stderr_has("(listed at ");
    fcap_run([os("apply"), m.as_os_str()]).ok().stderr_is("");

    // A nosuid mount, in a private mount namespace.
    let mnt = d.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mut c = std::process::Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount -t tmpfs -o nosuid tmpfs "$1" && cp /bin/true "$1/prog" && "$2" grant cap_kill "$1/prog""#)
        .arg("sh")
        .arg(&mnt)
        .arg(env!("CARGO_BIN_EXE_fcap"));
    run(c).ok().stderr_is(&format!(
        "fcap: warning: '{m}/prog' is on a nosuid mount ({m}): the kernel ignores its file capabilities at exec; move it to a mount without nosuid\n",
        m = mnt.display()
    ));

    // Outside the bounding set: drop cap_kill from it for one fcap run (capsh --drop),
    // rather than assume which capability this machine lacks.
    let prog = copy_prog(d.path(), "prog");
    let mut c = std::process::Command::new("capsh");
    c.arg("--drop=cap_kill")
        .arg("--")
        .arg("-c")
        .arg(r#""$0" grant cap_kill,cap_net_raw "$1" && "$0" set cap_kill=p "$1""#)
        .arg(env!("CARGO_BIN_EXE_fcap"))
        .arg(&prog);
    run(c).ok().stderr_is(&format!(
        "fcap: warning: cap_kill is not in this machine's bounding set and the effective bit is on: executing '{}' here fails with EPERM, even as root; grant cap_kill=p instead if the program raises what it gets, or run it where the bounding set has it\n",
        prog.display()
    ));
}
