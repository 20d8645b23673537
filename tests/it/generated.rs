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
fn generated() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![("man/fcap.1".to_string(), overview_page().into_bytes())];
    for sub in subcommands(&built()) {
        files.push((
            format!("man/fcap-{}.1", sub.get_name()),
            command_page(&sub).into_bytes(),
        ));
    }
    files.push(("man/fcap.caps.5".to_string(), caps_page().into_bytes()));
    files.extend([
        ("completions/fcap.bash".to_string(), completion(Shell::Bash)),
        ("completions/_fcap".to_string(), completion(Shell::Zsh)),
        ("completions/fcap.fish".to_string(), completion(Shell::Fish)),
    ]);
    files
}

/// clap_complete's script for `shell`, with fcap's own completers joined in
/// (completions/src/extra.*): capability names for grant, revoke, explain and verify's
/// capability options (after commas too), and user names for verify --user. The
/// spots in clap's script are found by text; a change in clap_complete's output fails
/// here rather than silently losing a completion.
fn completion(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "fcap", &mut out);
    let script = String::from_utf8(out).unwrap();
    let src = |ext: &str| {
        let p = format!("{}/completions/src/extra.{ext}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .replace("@CAPS@", &fcap::caps::NAMES.join(" "))
    };
    let mut edits = 0;
    let script = match shell {
        Shell::Bash => {
            // Register the wrapper instead of clap's function (it calls clap's).
            edits += script.matches("complete -F _fcap ").count();
            script
                .replace("complete -F _fcap ", "complete -F _fcap_wrap ")
                .replacen(
                    "\nif [[ \"${BASH_VERSINFO",
                    &format!("{}\nif [[ \"${{BASH_VERSINFO", src("bash")),
                    1,
                )
        }
        Shell::Zsh => {
            let mut sub = "";
            let mut lines = Vec::new();
            for line in script.lines() {
                if let Some(s) = line.strip_prefix('(').and_then(|l| l.strip_suffix(')')) {
                    sub = if s.contains(' ') { "" } else { s };
                }
                let completer = if line.starts_with("':caps -- ") {
                    Some(if sub == "revoke" {
                        "_fcap_caps_or_all"
                    } else {
                        "_fcap_caps"
                    })
                } else if line.starts_with("':cap -- ") {
                    Some("_fcap_cap")
                } else if line.contains(":CAPS:_default'") {
                    Some("_fcap_caps_or_all_none")
                } else if line.contains(":USER:_default'") {
                    Some("_fcap_users")
                } else {
                    None
                };
                match completer {
                    Some(c) if line.ends_with(":_default' \\") => {
                        edits += 1;
                        let keep = &line[..line.len() - ":_default' \\".len()];
                        lines.push(format!("{keep}:{c}' \\"));
                    }
                    _ => lines.push(line.to_string()),
                }
            }
            let script = lines.join("\n") + "\n";
            let tail = "\nif [ \"$funcstack[1]\" = \"_fcap\" ]; then";
            assert!(
                script.contains(tail),
                "no registration block in clap's zsh script"
            );
            script.replacen(tail, &format!("{}{tail}", src("zsh")), 1)
        }
        Shell::Fish => {
            let mut lines = Vec::new();
            for line in script.lines() {
                let verify_opt = |l: &str| {
                    line.starts_with(&format!(
                        "complete -c fcap -n \"__fish_fcap_using_subcommand verify\" -l {l} "
                    )) && line.ends_with(" -r")
                };
                if ["require", "inheritable", "ambient", "bounding", "drop"]
                    .iter()
                    .any(|l| verify_opt(l))
                {
                    edits += 1;
                    lines.push(format!("{line} -f -a \"(__fcap_caps all none)\""));
                } else if verify_opt("user") {
                    edits += 1;
                    lines.push(format!("{line} -f -a \"(cut -d: -f1 /etc/passwd)\""));
                } else {
                    lines.push(line.to_string());
                }
            }
            lines.join("\n") + "\n" + &src("fish")
        }
        _ => unreachable!("only bash, zsh and fish are generated"),
    };
    let want = match shell {
        Shell::Bash => 2,
        Shell::Zsh => 15,
        _ => 6,
    };
    assert_eq!(
        edits, want,
        "{shell:?}: clap_complete's script changed shape; update completion()"
    );
    script.into_bytes()
}

/// The command definition with bin names filled in (`fcap grant`).
fn built() -> clap::Command {
    let mut cmd = Cli::command();
    cmd.build();
    cmd
}

/// The visible subcommands, in definition order (clap's own `help` left out).
fn subcommands(cmd: &clap::Command) -> Vec<clap::Command> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .cloned()
        .collect()
}

/// The hand-written part of a page (man/src/NAME.txt; the format is in man/src/README).
fn man_src(name: &str) -> String {
    let path = format!("{}/man/src/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One rendered piece of a page, without the preamble clap_mangen starts each with.
fn piece(f: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let preamble = Roff::new().render();
    let mut buf = Vec::new();
    f(&mut buf).unwrap();
    let s = String::from_utf8(buf).unwrap();
    s.strip_prefix(preamble.as_str()).unwrap_or(&s).to_string()
}

/// A `Man` for a page, with fcap's title line.
fn man_for(cmd: clap::Command, title: &str, section: &str) -> Man {
    Man::new(cmd)
        .title(title.to_uppercase())
        .section(section)
        .source(format!("fcap {}", env!("CARGO_PKG_VERSION")))
        .manual("fcap")
}

/// A SYNOPSIS line from clap's own usage (`fcap grant [OPTIONS] <CAPS> <PATH>...`):
/// the command in bold, the rest as clap prints it, repetition marks included.
fn usage_line(r: &mut Roff, cmd: &clap::Command) {
    let usage = cmd.clone().render_usage().to_string();
    let usage = usage.trim_start_matches("Usage: ").trim().to_string();
    let words: Vec<&str> = usage.split(' ').collect();
    let name_len = words
        .iter()
        .take_while(|w| !w.starts_with(['<', '[', '-']))
        .count();
    let name = words[..name_len].join(" ");
    let rest = words[name_len..].join(" ");
    r.text([bold(name), roman(format!(" {rest}"))]);
}

/// The page of one subcommand, fcap-NAME(1), like git's: clap's NAME, SYNOPSIS,
/// DESCRIPTION and OPTIONS, then the hand-written sections of man/src/fcap-NAME.txt.
fn command_page(sub: &clap::Command) -> String {
    let page = format!("fcap-{}", sub.get_name());
    // The global options are described once, in fcap(1).
    let quiet = ["color", "help", "version"]
        .iter()
        .fold(sub.clone(), |c, id| c.mut_arg(*id, |a| a.hide(true)));
    let name: &'static str = Box::leak(page.clone().into_boxed_str());
    let man = man_for(quiet.clone().name(name), &page, "1");
    let mut out = Roff::new().render();
    out += &piece(&|w| man.render_title(w));
    out += &piece(&|w| man.render_name_section(w));
    let mut r = Roff::new();
    r.control("SH", ["SYNOPSIS"]);
    usage_line(&mut r, sub);
    r.control("SH", ["DESCRIPTION"]);
    if let Some(about) = sub.get_long_about().or(sub.get_about()) {
        r.text([roman(about.to_string())]);
    }
    if let Some(after) = sub.get_after_long_help().or(sub.get_after_help()) {
        for para in after.to_string().split("\n\n") {
            r.control("PP", []).text([roman(para.replace('\n', " "))]);
        }
    }
    let (intro, rest) = split_intro(&man_src(&page));
    out += &r.to_roff();
    out += &text_sections(&intro, "DESCRIPTION").to_roff();
    out += &piece(&|w| man.render_options_section(w));
    let mut note = Roff::new();
    note.control("PP", []).text([
        roman("The options of "),
        bold("fcap"),
        roman("(1) apply too: "),
        bold("--color"),
        roman(", "),
        bold("-h"),
        roman(", "),
        bold("-V"),
        roman("."),
    ]);
    out += &note.to_roff();
    out += &text_sections(&rest, "").to_roff();
    out
}

/// fcap(1): the overview, with every command's synopsis, the shared sections
/// (CAPS syntax, FILES, ENVIRONMENT, output, JSON) and the tail of `fcap --help`.
fn overview_page() -> String {
    let cmd = built();
    let man = man_for(cmd.clone(), "fcap", "1");
    let mut out = Roff::new().render();
    out += &piece(&|w| man.render_title(w));
    out += &piece(&|w| man.render_name_section(w));
    let mut r = Roff::new();
    r.control("SH", ["SYNOPSIS"]);
    usage_line(&mut r, &cmd);
    for sub in subcommands(&cmd) {
        r.control("br", []);
        usage_line(&mut r, &sub);
    }
    out += &r.to_roff();
    out += &piece(&|w| man.render_description_section(w));
    let (intro, rest) = split_intro(&man_src("fcap"));
    out += &text_sections(&intro, "DESCRIPTION").to_roff();
    let mut r = Roff::new();
    r.control("SH", ["COMMANDS"]);
    for sub in subcommands(&cmd) {
        r.control("TP", []).text([
            bold(format!("fcap {}", sub.get_name())),
            roman(" ("),
            bold(format!("fcap-{}", sub.get_name())),
            roman("(1))"),
        ]);
        r.text([roman(
            sub.get_about().map(|a| a.to_string()).unwrap_or_default(),
        )]);
    }
    out += &r.to_roff();
    out += &piece(&|w| man.render_options_section(w));
    out += &text_sections(&rest, "").to_roff();
    // The tail of `fcap --help`, with every page of the set in SEE ALSO.
    let mut pages: Vec<String> = subcommands(&cmd)
        .iter()
        .map(|s| format!("fcap-{}(1)", s.get_name()))
        .collect();
    pages.push("fcap.caps(5)".to_string());
    let tail = AFTER_LONG_HELP.replace(
        "See also:\n  ",
        &format!("See also:\n  {}, ", pages.join(", ")),
    );
    out += &text_sections(&tail, "").to_roff();
    out
}

/// fcap.caps(5), the manifest format: all of it from man/src/fcap.caps.txt.
fn caps_page() -> String {
    let mut out = Roff::new().render();
    let mut r = Roff::new();
    r.control(
        "TH",
        [
            "FCAP.CAPS",
            "5",
            "",
            &format!("fcap {}", env!("CARGO_PKG_VERSION")),
            "fcap",
        ],
    );
    out += &r.to_roff();
    out += &text_sections(&man_src("fcap.caps"), "").to_roff();
    out
}

/// The lines before the first section heading, and the rest.
fn split_intro(text: &str) -> (String, String) {
    let at = text
        .lines()
        .position(|l| !l.is_empty() && !l.starts_with(' '))
        .unwrap_or(text.lines().count());
    let lines: Vec<&str> = text.lines().collect();
    (lines[..at].join("\n"), lines[at..].join("\n"))
}

/// Turn hand-written text (the shape described in man/src/README, also the tail of
/// `fcap --help`) into man sections; `section` is the one it continues, if any.
fn text_sections(text: &str, section: &str) -> Roff {
    let mut r = Roff::new();
    let mut section = section.to_string();
    let mut in_code = false;
    let mut in_def = false;
    // Text that continues a section starts a paragraph of its own.
    let mut new_paragraph = !section.is_empty();
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
            in_def = false;
            continue;
        }
        if section == "EXIT STATUS"
            && indent == 2
            && let Some((code, rest)) = body.split_once("  ")
        {
            r.control("TP", []).text([bold(code)]).text([roman(rest)]);
            continue;
        }
        if section == "SEE ALSO" {
            let refs: Vec<&str> = body.split(", ").collect();
            for (i, re) in refs.iter().enumerate() {
                let (page, sect) = re.split_once('(').unwrap_or((re, ""));
                let sep = if i + 1 < refs.len() { "," } else { "" };
                r.text([bold(page), roman(format!("({sect}{sep}"))]);
            }
            continue;
        }
        if let Some(term) = body.strip_prefix("- ").filter(|_| indent == 2) {
            end_code(&mut r, &mut in_code);
            r.control("TP", []).text([bold(term)]);
            in_def = true;
            new_paragraph = false;
            continue;
        }
        if indent >= 6 && in_def {
            r.text([roman(body)]);
            continue;
        }
        if indent >= 4 {
            new_paragraph = false;
            if !in_code {
                if in_def {
                    r.control("PP", []);
                    in_def = false;
                }
                r.control("RS", ["4"]).control("nf", []);
                in_code = true;
            }
            r.text([roman(&line[4..])]);
            continue;
        }
        end_code(&mut r, &mut in_code);
        if new_paragraph || in_def {
            r.control("PP", []);
            new_paragraph = false;
            in_def = false;
        }
        r.text([roman(body)]);
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
        let path = root.join(&rel);
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
        let p = dir.path().join(&rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
    }
    let root = dir.path().to_path_buf();
    (dir, root)
}

/// `man -l` output as plain text (man-db drops the formatting when stdout is a pipe),
/// with groff's warnings switched on, at the width of a classic terminal.
fn render_man(page: &Path) -> (String, String) {
    let mut c = Command::new("man");
    c.args(["--warnings", "-l"])
        .arg(page)
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "80")
        .env("LC_ALL", "C");
    let r = run(c);
    assert_eq!(
        r.code(),
        0,
        "`man -l` failed (is man-db with groff installed? scripts/test installs them)\n{}",
        r.stderr()
    );
    (r.stdout(), r.stderr())
}

/// The text of one section of a rendered page (up to the next heading).
fn section<'a>(text: &'a str, name: &str) -> &'a str {
    let start = text
        .find(&format!("\n{name}\n"))
        .unwrap_or_else(|| panic!("no {name} section:\n{text}"));
    let body = &text[start + name.len() + 2..];
    let end = body
        .find("\n\n")
        .and_then(|_| {
            body.match_indices('\n')
                .map(|(i, _)| i + 1)
                .find(|&i| body[i..].starts_with(|c: char| c.is_ascii_uppercase()))
        })
        .unwrap_or(body.len());
    &body[..end]
}

/// Whitespace-normalised, for substring checks, in two readings of a '-' at the end
/// of a line: groff's hyphenation of a long word (joined without it), or a real
/// hyphen it broke after (kept).
fn flat(text: &str) -> String {
    let mut readings = Vec::new();
    for joiner in ["", "-"] {
        let mut s = String::new();
        for l in text.lines() {
            let t = l.trim();
            if let Some(head) = t
                .strip_suffix('-')
                .filter(|h| h.ends_with(|c: char| c.is_ascii_alphabetic()))
            {
                s.push_str(head);
                s.push_str(joiner);
            } else {
                s.push_str(t);
                s.push(' ');
            }
        }
        readings.push(s.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    readings.join(" | ")
}

/// Every page renders without a groff warning at 80 columns, has the sections a
/// sysadmin looks for, shows each argument's repetition in the SYNOPSIS and names
/// every option its command has.
#[test]
fn every_man_page_renders_cleanly_with_its_sections_and_flags() {
    let (_dir, root) = written();
    let cmd = built();
    let mut pages = vec![("fcap".to_string(), cmd.clone())];
    pages.extend(
        subcommands(&cmd)
            .into_iter()
            .map(|s| (format!("fcap-{}", s.get_name()), s)),
    );
    for (page, c) in &pages {
        let (text, warnings) = render_man(&root.join(format!("man/{page}.1")));
        assert_eq!(warnings, "", "groff warnings in {page}.1");
        for sect in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "EXIT STATUS",
            "EXAMPLES",
            "SEE ALSO",
        ] {
            section(&text, sect);
        }
        let usage = c.clone().render_usage().to_string();
        let usage = usage.trim_start_matches("Usage: ").trim();
        assert!(
            section(&text, "SYNOPSIS").contains(usage),
            "{page}: the synopsis lacks {usage:?}:\n{text}"
        );
        let all = flat(&text);
        // The global options (--color, --help, --version) are described in fcap(1).
        let global = |a: &clap::Arg| {
            page != "fcap" && ["color", "help", "version"].contains(&a.get_id().as_str())
        };
        for a in c.get_arguments().filter(|a| !a.is_hide_set() && !global(a)) {
            if let Some(l) = a.get_long() {
                assert!(all.contains(&format!("--{l}")), "{page} lacks --{l}");
            }
        }
        assert!(
            flat(section(&text, "SEE ALSO")).contains("fcap") || page == "fcap",
            "{page}: SEE ALSO does not lead back to fcap(1)"
        );
    }
    let (text, warnings) = render_man(&root.join("man/fcap.caps.5"));
    assert_eq!(warnings, "", "groff warnings in fcap.caps.5");
    for sect in [
        "NAME",
        "DESCRIPTION",
        "FORMAT",
        "FILES",
        "EXAMPLES",
        "SEE ALSO",
    ] {
        section(&text, sect);
    }
    // fcap(1) leads to every other page, and holds the shared sections.
    let (text, _) = render_man(&root.join("man/fcap.1"));
    for sect in [
        "COMMANDS",
        "CAPABILITIES",
        "FILES",
        "ENVIRONMENT",
        "JSON OUTPUT",
    ] {
        section(&text, sect);
    }
    let see_also = flat(section(&text, "SEE ALSO"));
    for (page, _) in pages.iter().skip(1) {
        assert!(
            see_also.contains(&format!("{page}(1)")),
            "fcap(1) SEE ALSO lacks {page}(1)"
        );
    }
    assert!(see_also.contains("fcap.caps(5)"));
    let status = section(&text, "EXIT STATUS");
    for code in ["0", "1", "2"] {
        assert!(
            status
                .lines()
                .any(|l| l.split_whitespace().next() == Some(code)),
            "exit status {code} is not listed:\n{status}"
        );
    }
    for line in [
        "sudo fcap grant cap_net_bind_service /usr/bin/node",
        "fcap verify /usr/bin/node --user node --require net_bind_service",
        "fcap check caps.manifest --root /usr",
    ] {
        assert!(text.contains(line), "fcap(1) lacks the example {line:?}");
    }
}

/// The hand-written sections stay in sync with the program: every reason code verify
/// can give is documented in fcap-verify(1); every environment variable fcap reads and
/// the system manifest directory are in fcap(1).
#[test]
fn man_pages_document_every_reason_code_environment_variable_and_file() {
    let (_dir, root) = written();
    let src =
        |p: &str| std::fs::read_to_string(format!("{}/{p}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    // Codes are the first argument of `why(` or the first of a `("code", "what")` pair.
    let model = src("src/verify/model.rs");
    let model = model.split("#[cfg(test)]").next().unwrap();
    let mut codes = std::collections::BTreeSet::new();
    let literal = |rest: &str| -> Option<String> {
        let rest = rest.trim_start().strip_prefix('"')?;
        let end = rest.find('"')?;
        let word = &rest[..end];
        (!word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
            .then(|| word.to_string())
    };
    for (i, _) in model.match_indices(".why(") {
        codes.extend(literal(&model[i + 5..]));
    }
    for (i, _) in model.match_indices("(\"") {
        let rest = &model[i + 1..];
        if let Some(w) = literal(rest)
            && rest[w.len() + 2..].starts_with(", \"")
        {
            codes.insert(w);
        }
    }
    // A chain's own links (user switches, forks) build their reasons as structs.
    let chain = src("src/verify/chain.rs");
    for (i, _) in chain.match_indices("code: ") {
        codes.extend(literal(&chain[i + 6..]));
    }
    assert!(
        codes.len() >= 30,
        "only {} reason codes found: {codes:?}",
        codes.len()
    );
    let (text, _) = render_man(&root.join("man/fcap-verify.1"));
    let documented: Vec<String> = section(&text, "REASON CODES")
        .lines()
        .filter(|l| l.starts_with("       ") && !l.starts_with("        "))
        // A short term shares its line with the definition, which starts with a
        // capital letter; codes are lower case.
        .map(|l| {
            let t = l.trim_start();
            let end = t
                .find(|c: char| !(c.is_ascii_lowercase() || c == '-' || c == ',' || c == ' '))
                .unwrap_or(t.len());
            t[..end].to_string()
        })
        .flat_map(|t| {
            t.split(',')
                .filter_map(|w| w.split_whitespace().next().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect();
    for code in &codes {
        assert!(
            documented.contains(code),
            "verify gives reason code {code:?}, but fcap-verify(1) does not document it (man/src/fcap-verify.txt)"
        );
    }
    let (text, _) = render_man(&root.join("man/fcap.1"));
    let env = flat(section(&text, "ENVIRONMENT"));
    let mut files = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    let mut vars = std::collections::BTreeSet::new();
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let t = std::fs::read_to_string(&p).unwrap();
        for pat in ["env::var(\"", "env::var_os(\""] {
            for (i, _) in t.match_indices(pat) {
                let rest = &t[i + pat.len()..];
                vars.insert(rest[..rest.find('"').unwrap()].to_string());
            }
        }
    }
    assert!(vars.contains("NO_COLOR"), "{vars:?}");
    for v in &vars {
        assert!(
            env.contains(v.as_str()),
            "fcap reads ${v}, but fcap(1) ENVIRONMENT does not say so"
        );
    }
    assert!(flat(section(&text, "FILES")).contains(fcap::manifest::SYSTEM_DIR));
}

/// Every field of every JSON output, as real runs print it, is named in the page of
/// the command that prints it.
#[test]
fn man_pages_document_every_json_field() {
    let (_dir, root) = written();
    let d = crate::util::tempdir();
    let f = crate::util::copy_prog(d.path(), "prog");
    let link = d.path().join("link");
    std::os::unix::fs::symlink("prog", &link).unwrap();
    let m = d.path().join("app.caps");
    std::fs::write(&m, format!("{} cap_kill=p\n", f.display())).unwrap();
    let fp = f.to_str().unwrap();
    let lp = link.to_str().unwrap();
    let mp = m.to_str().unwrap();
    let sd = crate::util::tempdir();
    let s = crate::util::copy_prog(sd.path(), "suid");
    std::fs::set_permissions(&s, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
    let sp = sd.path().to_str().unwrap();
    let runs: Vec<(&str, Vec<&str>)> = vec![
        ("fcap-audit", vec!["audit", "--json", "--no-exceptions", sp]),
        ("fcap-read", vec!["read", "--json", fp, lp]),
        (
            "fcap-grant",
            vec!["grant", "--json", "--dry-run", "cap_kill", lp],
        ),
        (
            "fcap-set",
            vec!["set", "--json", "--dry-run", "cap_kill=p", fp],
        ),
        ("fcap-revoke", vec!["revoke", "--json", "all", fp]),
        ("fcap-apply", vec!["apply", "--json", "--dry-run", mp]),
        ("fcap-check", vec!["check", "--json", mp]),
        (
            "fcap-verify",
            vec![
                "verify",
                "--json",
                fp,
                "--user",
                "nobody",
                "--require",
                "kill",
            ],
        ),
        (
            "fcap-verify",
            vec![
                "verify",
                "--json",
                fp,
                "--user",
                "0",
                "--then-user",
                "nobody",
                "--then-fork",
                "--then",
                fp,
                "--require",
                "kill",
            ],
        ),
        (
            "fcap-run",
            vec![
                "run",
                "--explain",
                "--json",
                "--user",
                "nobody",
                "--ambient",
                "kill",
                "--",
                fp,
            ],
        ),
        ("fcap-list", vec!["list", "--json"]),
        ("fcap-explain", vec!["explain", "--json", "kill"]),
    ];
    for (page, args) in runs {
        let r = crate::util::fcap_run(&args);
        let (text, _) = render_man(&root.join(format!("man/{page}.1")));
        let json = flat(section(&text, "JSON OUTPUT"));
        let mut keys = std::collections::BTreeSet::new();
        fn collect(v: &serde_json::Value, keys: &mut std::collections::BTreeSet<String>) {
            match v {
                serde_json::Value::Object(o) => {
                    for (k, v) in o {
                        keys.insert(k.clone());
                        collect(v, keys);
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| collect(v, keys)),
                _ => {}
            }
        }
        for v in r.json_lines() {
            collect(&v, &mut keys);
        }
        assert!(
            !keys.is_empty(),
            "`fcap {}` printed no JSON",
            args.join(" ")
        );
        let words: std::collections::BTreeSet<&str> = json
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .collect();
        for k in &keys {
            assert!(
                words.contains(k.as_str()),
                "`fcap {}` prints the field {k:?}, but {page}(1) JSON OUTPUT does not name it",
                args.join(" ")
            );
        }
    }
}

/// `bash` sourcing the completion and asking the function it registered for fcap to
/// complete `words` (the last one is
/// the word under the cursor).
fn bash_complete(root: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source completions/fcap.bash && complete -p fcap >/dev/null && \
         COMP_WORDS=({words}) COMP_CWORD={cword} COMP_LINE='{line}' COMP_POINT={point} && \
         _fcap_wrap fcap '{cur}' '{prev}' && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
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

/// The binary the tests run is linked the way the release binary is (every profile
/// builds for the musl target, .cargo/config.toml), so every test of user lookups also
/// runs without NSS. This fails if the build is for another target, e.g. with
/// CARGO_BUILD_TARGET=x86_64-unknown-linux-gnu in the environment.
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
        "{exe} asks for a dynamic loader (PT_INTERP): it was not built for the musl target of .cargo/config.toml"
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
    use fcap::cli::Command as Sub;
    let mut seen = 0;
    // The help's examples, and every page's (man/src/*.txt).
    let mut texts = vec![fcap::cli::AFTER_LONG_HELP.to_string()];
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/man/src");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "txt") {
            texts.push(std::fs::read_to_string(p).unwrap());
        }
    }
    for line in texts.iter().flat_map(|t| t.lines()) {
        let words = shell_words(line);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        // Commands are four-space lines; take what follows the word `fcap`, up to a
        // shell operator or redirection.
        let Some(start) = words.iter().position(|w| *w == "fcap") else {
            continue;
        };
        // Exactly four spaces: six-space lines are definitions, not commands.
        if !line.starts_with("    ") || line.starts_with("     ") {
            continue;
        }
        let argv: Vec<&str> = words[start..]
            .iter()
            .take_while(|w| !matches!(**w, ">" | "|" | "&&" | "\\"))
            .copied()
            .collect();
        let cli = fcap::cli::Cli::try_parse_from(&argv)
            .unwrap_or_else(|e| panic!("example `{line}` does not parse:\n{}", e.render()));
        // And the CAPS of the examples are valid where they are parsed later.
        let caps = match &cli.command {
            Sub::Grant(a) => fcap::capspec::parse_grant(&a.caps)
                .err()
                .map(|e| e.to_string()),
            Sub::Revoke(a) => fcap::capspec::parse_revoke(&a.caps)
                .err()
                .map(|e| e.to_string()),
            Sub::Set(a) => fcap::text::parse(&a.expr).err().map(|e| e.to_string()),
            _ => None,
        };
        assert!(
            caps.is_none(),
            "example `{line}`: {}",
            caps.unwrap_or_default()
        );
        seen += 1;
    }
    assert!(seen >= 30, "only {seen} example commands found");
}

/// A command line's words, with '...' quoting undone (enough for the examples).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    for c in line.chars() {
        match c {
            '\'' => (quoted, any) = (!quoted, true),
            c if c.is_whitespace() && !quoted => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
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

/// The completions a sysadmin reaches for: `fcap grant cap_net_b<TAB>` (also after a
/// comma, and without `cap_`), `revoke`, `explain`, verify's capability options,
/// `--profile` and `--user` from /etc/passwd, in real bash, zsh and fish.
#[test]
fn completions_complete_capabilities_profiles_and_users() {
    let (_dir, root) = written();
    let nobody = "nobody";
    // (command line up to the cursor, a completion that must be offered)
    let cases: &[(&str, &str)] = &[
        ("fcap grant cap_net_bi", "cap_net_bind_service"),
        (
            "fcap grant cap_chown,cap_net_bi",
            "cap_chown,cap_net_bind_service",
        ),
        ("fcap grant --dry-run cap_net_bi", "cap_net_bind_service"),
        ("fcap revoke cap_sys_adm", "cap_sys_admin"),
        ("fcap explain cap_sys_adm", "cap_sys_admin"),
        (
            "fcap verify /bin/true --require cap_net_bi",
            "cap_net_bind_service",
        ),
        (
            "fcap verify /bin/true --drop cap_chown,cap_ki",
            "cap_chown,cap_kill",
        ),
        ("fcap verify /bin/true --profile k8s-r", "k8s-restricted"),
        ("fcap audit --profile k8s-b", "k8s-baseline"),
        ("fcap audit --fail-on warn", "warning"),
        ("fcap verify /bin/true --user nobo", nobody),
    ];
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    assert!(
        passwd.lines().any(|l| l.starts_with("nobody:")),
        "no nobody in /etc/passwd"
    );

    for (line, want) in cases {
        let words: Vec<&str> = line.split(' ').collect();
        let got = bash_complete(&root, &words);
        assert!(
            got.iter().any(|g| g == want),
            "bash: `{line}<TAB>` offers {got:?}, not {want:?}"
        );
    }
    // bash offers bare names for a bare prefix.
    let got = bash_complete(&root, &["fcap", "grant", "net_bi"]);
    assert_eq!(got, ["net_bind_service"]);

    for (line, want) in cases {
        let mut c = Command::new("fish");
        c.current_dir(&root).args([
            "--no-config",
            "-c",
            &format!("source completions/fcap.fish; and complete -C '{line}'"),
        ]);
        let r = run(c);
        r.ok();
        assert!(
            r.stdout()
                .lines()
                .any(|l| l.split('\t').next() == Some(want)),
            "fish: `{line}<TAB>` offers:\n{}",
            r.stdout()
        );
    }

    // zsh completes only in an interactive line editor: drive one through zpty. Each
    // line is completed with TAB and run; `fcap` is a function that prints its
    // arguments, so the completed line comes back as one marked line.
    let mut script = String::from(
        "zmodload zsh/zpty\nzpty z zsh -f -i\n\
         zpty -w z \"PS1='> '; fpath=($PWD/completions \\$fpath); autoload -U compinit; compinit -u -D; fcap() { print -r -- \\\"<<\\$*>>\\\" }\"\n",
    );
    for (line, _) in cases {
        script +=
            &format!("zpty -w -n z $'{line}\\t'\nsleep 0.3\nzpty -w -n z $'\\n'\nsleep 0.2\n");
    }
    script += "zpty -w z exit\nout=\"\"\nwhile zpty -r -t z l; do out+=\"$l\"; done\nprint -r -- \"$out\"\n";
    let mut c = Command::new("zsh");
    c.current_dir(&root).args(["-f", "-c", &script]);
    let r = run(c);
    r.ok();
    let out = r.stdout().replace('\r', "");
    let done: Vec<&str> = out
        .split("<<")
        .skip(1)
        .filter_map(|s| s.split(">>").next())
        .filter(|s| !s.starts_with('$'))
        .collect();
    assert_eq!(done.len(), cases.len(), "zsh ran {done:?}\n{out}");
    for ((line, want), got) in cases.iter().zip(&done) {
        let typed = line.trim_start_matches("fcap ");
        let last = typed.rsplit(' ').next().unwrap();
        let expect = format!("{}{want}", &typed[..typed.len() - last.len()]);
        assert_eq!(got.trim_end(), expect, "zsh: `{line}<TAB>`");
    }
}
