//! The man page and the shell completions are generated from the clap definition
//! (`fcap::cli::Cli`) and committed, so `man -l man/fcap.1` and the completions work
//! from a plain checkout. These tests regenerate them in memory and fail when the
//! committed files are stale; `UPDATE_GENERATED=1 cargo test --test it generated`
//! rewrites them.
//!
//! The render and load tests work on the freshly generated text (in a temp dir), not
//! on the committed files, so they never race with the rewrite; the staleness test is
//! what ties the two together.

use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use fcap::cli::{AFTER_LONG_HELP, Cli};
use roff::{Roff, bold, roman};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::run;

const UPDATE_HINT: &str = "run `UPDATE_GENERATED=1 cargo test --test it generated` and commit";

/// Every generated file, as (path relative to the crate root, contents).
fn generated() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("man/fcap.1", man_page().into_bytes()),
        ("completions/fcap.bash", completion(Shell::Bash)),
        ("completions/_fcap", completion(Shell::Zsh)),
        ("completions/fcap.fish", completion(Shell::Fish)),
    ]
}

fn completion(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "fcap", &mut out);
    out
}

/// The visible subcommands, in definition order (clap's own `help` left out).
fn subcommands(cmd: &clap::Command) -> Vec<clap::Command> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .cloned()
        .collect()
}

/// One man page for the whole tool: the usual sections from clap_mangen, a COMMANDS
/// section with every subcommand's synopsis, description and options, then EXIT
/// STATUS, EXAMPLES and SEE ALSO from [`AFTER_LONG_HELP`].
fn man_page() -> String {
    let mut cmd = Cli::command();
    cmd.build();
    // clap_mangen starts every rendered piece with the same preamble; keep one.
    let preamble = Roff::new().render();
    let piece = |f: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| {
        let mut buf = Vec::new();
        f(&mut buf).unwrap();
        let s = String::from_utf8(buf).unwrap();
        s.strip_prefix(preamble.as_str()).unwrap_or(&s).to_string()
    };
    let man = Man::new(cmd.clone());
    let mut page = preamble.clone();
    page += &piece(&|w| man.render_title(w));
    page += &piece(&|w| man.render_name_section(w));
    page += &piece(&|w| man.render_synopsis_section(w));
    page += &piece(&|w| man.render_description_section(w));
    page += &piece(&|w| man.render_options_section(w));

    let mut intro = Roff::new();
    intro.control("SH", ["COMMANDS"]).text([roman(
        "Every command also accepts the options above (--color, --help, --version).",
    )]);
    page += &intro.to_roff();
    for sub in subcommands(&cmd) {
        let name = sub.get_bin_name().unwrap_or(sub.get_name()).to_string();
        let mut head = Roff::new();
        head.control("SS", [name.as_str()]);
        page += &head.to_roff();
        // The global options are described once, under OPTIONS.
        let quiet = ["color", "help", "version"]
            .iter()
            .fold(sub.clone(), |c, id| c.mut_arg(*id, |a| a.hide(true)));
        let sm = Man::new(quiet);
        // Each piece opens with its own `.SH`; inside COMMANDS they are paragraphs.
        let demote = |s: String| {
            s.lines()
                .map(|l| if l.starts_with(".SH") { ".PP" } else { l })
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"
        };
        page += &demote(piece(&|w| sm.render_synopsis_section(w)));
        page += &demote(piece(&|w| sm.render_description_section(w)));
        page += &demote(piece(&|w| sm.render_options_section(w)));
        if sub.get_after_help().is_some() || sub.get_after_long_help().is_some() {
            page += &demote(piece(&|w| sm.render_extra_section(w)));
        }
    }
    page += &after_help_sections(AFTER_LONG_HELP).to_roff();
    page
}

/// Turn the plain-text tail of `fcap --help` into man sections (the shape is
/// described at [`AFTER_LONG_HELP`]).
fn after_help_sections(text: &str) -> Roff {
    let mut r = Roff::new();
    let mut section = String::new();
    let mut in_code = false;
    let mut new_paragraph = false;
    let end_code = |r: &mut Roff, in_code: &mut bool| {
        if *in_code {
            r.control("fi", []).control("RE", []);
            *in_code = false;
        }
    };
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let body = line.trim_start();
        if line.trim().is_empty() {
            end_code(&mut r, &mut in_code);
            new_paragraph = true;
            continue;
        }
        if indent == 0 {
            end_code(&mut r, &mut in_code);
            section = body.trim_end_matches(':').to_uppercase();
            r.control("SH", [section.as_str()]);
            new_paragraph = false;
            continue;
        }
        match section.as_str() {
            "EXIT STATUS" => match body.split_once("  ") {
                Some((code, rest)) if indent == 2 => {
                    r.control("TP", []).text([bold(code)]).text([roman(rest)]);
                }
                _ => {
                    r.text([roman(body)]);
                }
            },
            "SEE ALSO" => {
                let refs: Vec<&str> = body.split(", ").collect();
                for (i, re) in refs.iter().enumerate() {
                    let (page, sect) = re.split_once('(').unwrap_or((re, ""));
                    let sep = if i + 1 < refs.len() { "," } else { "" };
                    r.text([bold(page), roman(format!("({sect}{sep}"))]);
                }
            }
            _ if indent >= 4 => {
                new_paragraph = false;
                if !in_code {
                    r.control("RS", ["4"]).control("nf", []);
                    in_code = true;
                }
                r.text([roman(&line[4..])]);
            }
            _ => {
                end_code(&mut r, &mut in_code);
                if new_paragraph {
                    r.control("PP", []);
                    new_paragraph = false;
                }
                r.text([roman(body)]);
            }
        }
    }
    end_code(&mut r, &mut in_code);
    r
}

#[test]
fn committed_files_are_current() {
    let update = std::env::var_os("UPDATE_GENERATED").is_some_and(|v| !v.is_empty());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = Vec::new();
    for (rel, want) in generated() {
        let path = root.join(rel);
        if std::fs::read(&path).ok().as_deref() == Some(want.as_slice()) {
            continue;
        }
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &want).unwrap();
        } else {
            stale.push(rel);
        }
    }
    assert!(
        stale.is_empty(),
        "generated files are stale: {}; {UPDATE_HINT}",
        stale.join(", ")
    );
}

#[test]
fn cli_definition_is_consistent() {
    Cli::command().debug_assert();
}

/// The generated files, written into a fresh temp dir with the committed layout.
fn written() -> (tempfile::TempDir, PathBuf) {
    let dir = crate::util::tempdir();
    for (rel, bytes) in generated() {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
    }
    let root = dir.path().to_path_buf();
    (dir, root)
}

/// `man -l` output as plain text (man-db drops the formatting when stdout is a pipe),
/// with groff's warnings switched on.
fn render_man(page: &Path) -> (String, String) {
    let mut c = Command::new("man");
    c.args(["--warnings", "-l"])
        .arg(page)
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .env("LC_ALL", "C");
    let r = run(c);
    assert_eq!(
        r.code(),
        0,
        "`man -l` failed (is man-db with groff installed? .ci/run installs them)\n{}",
        r.stderr()
    );
    (r.stdout(), r.stderr())
}

#[test]
fn man_page_renders_every_section_subcommand_and_flag() {
    let (_dir, root) = written();
    let (text, warnings) = render_man(&root.join("man/fcap.1"));
    assert_eq!(warnings, "", "groff warnings in the man page");
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "COMMANDS",
        "EXIT STATUS",
        "EXAMPLES",
        "SEE ALSO",
    ] {
        assert!(
            text.lines().any(|l| l == section),
            "no {section} section:\n{text}"
        );
    }
    let mut cmd = Cli::command();
    cmd.build();
    let mut wanted: Vec<String> = Vec::new();
    let longs = |c: &clap::Command| -> Vec<String> {
        c.get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect()
    };
    wanted.extend(longs(&cmd));
    for sub in subcommands(&cmd) {
        wanted.push(format!("fcap {}", sub.get_name()));
        wanted.extend(longs(&sub));
        if let Some(about) = sub.get_about() {
            wanted.push(about.to_string());
        }
    }
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for w in &wanted {
        let w = w.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(&w), "man page lacks {w:?}:\n{text}");
    }
    // The exit status table, and the node-on-port-80 story as one command line each.
    for line in [
        "sudo fcap grant cap_net_bind_service /usr/bin/node",
        "fcap verify /usr/bin/node --user node --require net_bind_service",
        "fcap check caps.manifest --root /usr",
        "setcap(8), getcap(8), capabilities(7)",
    ] {
        assert!(
            text.lines().any(|l| l.trim() == line || l.contains(line)),
            "man page lacks the line {line:?}:\n{text}"
        );
    }
    let status = text
        .split("EXIT STATUS")
        .nth(1)
        .and_then(|s| s.split("EXAMPLES").next())
        .unwrap();
    for code in ["0", "1", "2"] {
        assert!(
            status
                .lines()
                .any(|l| l.split_whitespace().next() == Some(code)),
            "exit status {code} is not listed:\n{status}"
        );
    }
}

/// `bash` sourcing the completion and asking it to complete `words` (the last one is
/// the word under the cursor).
fn bash_complete(root: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source completions/fcap.bash && complete -p fcap >/dev/null && \
         COMP_WORDS=({words}) COMP_CWORD={cword} COMP_LINE='{line}' COMP_POINT={point} && \
         _fcap fcap '{cur}' '{prev}' && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words = quoted.join(" "),
        cword = words.len() - 1,
        line = words.join(" "),
        point = words.join(" ").len(),
        cur = words[words.len() - 1],
        prev = words[words.len() - 2],
    );
    let mut c = Command::new("bash");
    c.current_dir(root)
        .args(["--norc", "--noprofile", "-c", &script]);
    let r = run(c);
    r.ok();
    assert_eq!(r.stderr(), "", "bash printed errors");
    r.stdout().lines().map(str::to_string).collect()
}

#[test]
fn bash_completion_loads_and_completes() {
    let (_dir, root) = written();
    let mut c = Command::new("bash");
    c.current_dir(&root).args([
        "--norc",
        "--noprofile",
        "-c",
        "source completions/fcap.bash && complete -p fcap",
    ]);
    let r = run(c);
    r.ok();
    assert!(r.stdout().contains(" fcap"), "{}", r.stdout());
    let subs = bash_complete(&root, &["fcap", ""]);
    for want in ["read", "grant", "verify", "list", "explain"] {
        assert!(
            subs.iter().any(|s| s == want),
            "{want} missing from {subs:?}"
        );
    }
    let flags = bash_complete(&root, &["fcap", "list", "--"]);
    assert!(flags.iter().any(|s| s == "--json"), "{flags:?}");
}

#[test]
fn zsh_completion_loads() {
    let (_dir, root) = written();
    // compinit registers _fcap from $fpath through its #compdef line; `autoload +X`
    // then parses the whole function, so a syntax error fails here.
    let mut c = Command::new("zsh");
    c.current_dir(&root).args([
        "-f",
        "-c",
        "fpath=(\"$PWD/completions\" $fpath); autoload -U compinit && compinit -u -D && \
         print -r -- \"$_comps[fcap]\" && autoload +X _fcap && whence -w _fcap",
    ]);
    let r = run(c);
    assert_eq!(
        r.code(),
        0,
        "zsh could not load completions/_fcap (is zsh installed? .ci/run installs it)\n{}",
        r.stderr()
    );
    assert_eq!(r.stderr(), "", "zsh printed errors");
    assert_eq!(r.stdout(), "_fcap\n_fcap: function\n");
}

#[test]
fn fish_completion_loads_and_completes() {
    let (_dir, root) = written();
    let complete = |line: &str| {
        let mut c = Command::new("fish");
        c.current_dir(&root).args([
            "--no-config",
            "-c",
            &format!("source completions/fcap.fish; and complete -C '{line}'"),
        ]);
        let r = run(c);
        assert_eq!(
            r.code(),
            0,
            "fish could not load completions/fcap.fish (is fish installed? .ci/run installs it)\n{}",
            r.stderr()
        );
        assert_eq!(r.stderr(), "", "fish printed errors");
        r.stdout()
    };
    let subs = complete("fcap ");
    for want in ["read", "grant", "verify", "list", "explain"] {
        assert!(
            subs.lines().any(|l| l.split('\t').next() == Some(want)),
            "{want} missing from:\n{subs}"
        );
    }
    let flags = complete("fcap explain --");
    assert!(
        flags.lines().any(|l| l.starts_with("--json")),
        "--json missing from:\n{flags}"
    );
}

/// The binary the tests run is linked the way the release binary is (the rustc
/// wrapper in .cargo/config.toml adds crt-static for every profile), so every test of
/// user lookups also runs without NSS. This fails if the wrapper is bypassed, e.g. by
/// an RUSTC_WRAPPER in the environment.
#[test]
fn binary_is_static() {
    let exe = env!("CARGO_BIN_EXE_fcap");
    let elf = std::fs::read(exe).unwrap();
    assert_eq!(&elf[..5], b"\x7fELF\x02", "not a 64-bit ELF file");
    let u16_at = |o: usize| usize::from(u16::from_le_bytes([elf[o], elf[o + 1]]));
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    const PT_INTERP: u32 = 3;
    let interp = (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) == PT_INTERP
    });
    assert!(
        !interp,
        "{exe} asks for a dynamic loader (PT_INTERP): the crt-static wrapper in .cargo/config.toml was not used"
    );
    // And the issue's own criterion, through the system's ldd.
    let mut c = Command::new("ldd");
    c.arg(exe);
    let r = run(c);
    let said = format!("{}{}", r.stdout(), r.stderr());
    assert!(
        said.contains("statically linked") || said.contains("not a dynamic executable"),
        "ldd {exe}: {said}"
    );
}

/// What a distroless image looks like to fcap: a root directory holding nothing but
/// the binary (no libc, no loader, no /proc). It must still run.
#[test]
fn binary_runs_in_an_empty_root() {
    let euid = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("Uid:")
                .map(|u| u.split_whitespace().nth(1).unwrap().to_string())
        })
        .unwrap();
    assert_eq!(euid, "0", "chroot needs root (CI runs as root)");
    let dir = crate::util::tempdir();
    // Copy with cp(1), not std::fs::copy: a write descriptor held by this process
    // leaks into children other test threads fork, and exec then fails with ETXTBSY.
    let mut cp = Command::new("cp");
    cp.arg(env!("CARGO_BIN_EXE_fcap"))
        .arg(dir.path().join("fcap"));
    run(cp).ok();
    let mut c = Command::new("chroot");
    c.arg(dir.path()).args(["/fcap", "list", "--json"]);
    let r = run(c);
    r.ok();
    assert_eq!(
        r.stdout().lines().count(),
        41.max(fcap::caps::kernel_cap_count() as usize)
    );
}

/// Every fcap command in the help's and man page's EXAMPLES parses with today's
/// command line, so the examples cannot drift from the flags.
#[test]
fn every_example_command_parses() {
    use clap::Parser;
    let mut seen = 0;
    for line in fcap::cli::AFTER_LONG_HELP.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        // Commands are four-space lines; take what follows the word `fcap`, up to a
        // shell operator or redirection.
        let Some(start) = words.iter().position(|w| *w == "fcap") else {
            continue;
        };
        if !line.starts_with("    ") {
            continue;
        }
        let argv: Vec<&str> = words[start..]
            .iter()
            .take_while(|w| !matches!(**w, ">" | "|" | "&&" | "\\"))
            .copied()
            .collect();
        if let Err(e) = fcap::cli::Cli::try_parse_from(&argv) {
            panic!("example `{line}` does not parse:\n{}", e.render());
        }
        seen += 1;
    }
    assert!(seen >= 8, "only {seen} example commands found");
}

/// A fresh machine without zsh: the zsh test fails with one line that names the
/// package, and neither a panic message nor a backtrace (even with RUST_BACKTRACE=1).
/// This runs the suite's own binary on that one test with a PATH where no zsh is.
#[test]
fn a_missing_tool_fails_in_one_line_naming_its_package() {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        "generated::zsh_completion_loads",
        "--test-threads=1",
    ])
    .env("PATH", "/nonexistent")
    .env("RUST_BACKTRACE", "1");
    let r = run(c);
    r.status(101);
    let said = format!("{}{}", r.stdout(), r.stderr());
    assert!(
        said.contains("fcap tests: 'zsh' is not installed: install the Debian package zsh"),
        "{said}"
    );
    for noise in ["panicked at", "stack backtrace", "RUST_BACKTRACE"] {
        assert!(!said.contains(noise), "{noise:?} in:\n{said}");
    }
}
