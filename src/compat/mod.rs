//! The setcap and getcap drop-in: run as `setcap` or `getcap` (a symlink or hard link
//! to the binary, busybox style), or as `fcap setcap ...` / `fcap getcap ...`, fcap
//! behaves as libcap 2.66's programs do, so that maintainer scripts, Dockerfiles and
//! configuration management that call them work unchanged in an image without
//! libcap2-bin (shared spec: setcap-compat.md, libcap.md §3).
//!
//! What is the same as libcap: every flag and where it may appear, standard output
//! byte for byte (paths are printed raw, exactly as given, not escaped as fcap's own
//! commands print them), the exit codes (0 and 1, not fcap's 0/1/2 table), which
//! texts are accepted, the bytes written, and the refusal of symlinks and non-regular
//! files. What differs on purpose: standard error is one `fcap: ...` line in fcap's
//! words (it is non-empty exactly when libcap's is), the help names fcap, the license
//! flags print fcap's license, and writes go through an `O_NOFOLLOW` descriptor
//! instead of libcap's path-based `setxattr` (the TOCTOU fixed after 2.66).

pub mod getcap;
pub mod setcap;

use crate::cli::Globals;
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Which of libcap's programs to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    Setcap,
    Getcap,
}

impl Program {
    fn from_name(name: &OsStr) -> Option<Program> {
        match name.as_bytes() {
            b"setcap" => Some(Program::Setcap),
            b"getcap" => Some(Program::Getcap),
            _ => None,
        }
    }
}

/// The drop-in a command line asks for, fcap's global options given before its name,
/// and the arguments that follow the name: argv[0]'s file name first
/// (`/usr/sbin/setcap -> fcap`), then `fcap [--color WHEN] setcap ...`. The options are
/// an error when clap refuses them (`fcap --color rainbow setcap`).
pub fn program(args: &[OsString]) -> Option<(Program, Result<Globals, clap::Error>, &[OsString])> {
    let argv0 = args.first()?;
    if let Some(p) = Path::new(argv0).file_name().and_then(Program::from_name) {
        return Some((p, Ok(Globals::default()), &args[1..]));
    }
    let at = 1 + args
        .get(1..)?
        .iter()
        .position(|a| Program::from_name(a).is_some())?;
    let p = Program::from_name(&args[at])?;
    let before = &args[1..at];
    // Before the name, as before any subcommand, only fcap's global options may come;
    // after a subcommand's name (`fcap read setcap`) it is an ordinary argument.
    use clap::{Args, FromArgMatches, Subcommand};
    if before
        .iter()
        .any(|w| w.to_str().is_some_and(crate::cli::Command::has_subcommand))
    {
        return None;
    }
    // Version too, so that `fcap -V setcap` is the version as before any subcommand.
    let cmd = Globals::augment_args(
        clap::Command::new("fcap")
            .version(env!("CARGO_PKG_VERSION"))
            .no_binary_name(true),
    );
    let globals = cmd
        .try_get_matches_from(before)
        .and_then(|m| Globals::from_arg_matches(&m));
    // `fcap --help setcap`: fcap's help, from fcap's own parse.
    if globals.as_ref().is_err_and(|e| !e.use_stderr()) {
        return None;
    }
    Some((p, globals, &args[at + 1..]))
}

/// Run a drop-in with the arguments after its name, writing standard output to `out`;
/// returns libcap's exit status.
pub fn run(p: Program, args: &[OsString], out: &mut dyn Write) -> u8 {
    // libcap's programs die of SIGPIPE when their reader goes away (`getcap -r / | head`
    // under `set -o pipefail` fails), where fcap's own commands exit 0; do as they do.
    // SAFETY: restoring the default disposition of one signal; no handler is involved.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let r = match p {
        Program::Setcap => setcap::run(args, out),
        Program::Getcap => getcap::run(args, out),
    };
    let code = match r {
        Ok(code) => code,
        // Only reached if SIGPIPE is ignored by whoever started us: fail quietly.
        Err(e) if crate::error::is_broken_pipe(&e) => 1,
        Err(e) => {
            crate::error::print(&e);
            1
        }
    };
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            crate::error::print(&anyhow::anyhow!("writing standard output: {e}"));
            1
        }
        Err(_) => 1,
        Ok(()) => code,
    }
}

/// A libcap program's failure: one line on standard error, exit status 1. Everything
/// written to `out` before it stays (setcap stops at the first failing pair).
fn fail(msg: impl std::fmt::Display) -> anyhow::Result<u8> {
    crate::error::print(&anyhow::anyhow!("{msg}"));
    Ok(1)
}

/// The path bytes exactly as given, for standard output (libcap prints them with `%s`).
fn raw(p: &OsStr) -> &[u8] {
    p.as_bytes()
}

/// A path quoted for a message on standard error.
fn quoted(p: &OsStr) -> String {
    crate::error::quote(Path::new(p))
}

/// What the license flags (`setcap --license`, `getcap -l`) print: fcap's license,
/// since this is not libcap's code.
fn license(out: &mut dyn Write, name: &str) -> anyhow::Result<u8> {
    writeln!(
        out,
        "{name} (fcap {}) is part of fcap, licensed MIT OR Apache-2.0; it is not libcap's code.",
        env!("CARGO_PKG_VERSION")
    )?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::ColorChoice;

    /// [`program`] with the global options unwrapped.
    fn ok(a: &[OsString]) -> Option<(Program, Globals, &[OsString])> {
        program(a).map(|(p, g, rest)| (p, g.unwrap(), rest))
    }

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_program_comes_from_argv0_or_the_first_word() {
        let auto = Globals::default();
        let a = args(&["/usr/sbin/setcap", "-r", "f"]);
        assert_eq!(ok(&a), Some((Program::Setcap, auto, &a[1..])));
        let a = args(&["getcap", "f"]);
        assert_eq!(ok(&a), Some((Program::Getcap, auto, &a[1..])));
        let a = args(&["/usr/bin/fcap", "getcap", "-v", "f"]);
        assert_eq!(ok(&a), Some((Program::Getcap, auto, &a[2..])));
        assert_eq!(ok(&args(&["fcap", "read", "f"])), None);
        assert_eq!(ok(&args(&["fcap"])), None);
        // Only the exact names: a build directory called "setcap" is not the program.
        assert_eq!(ok(&args(&["/srv/setcap/fcap", "read"])), None);
        assert_eq!(ok(&args(&["setcap.old"])), None);
    }

    #[test]
    fn global_options_may_come_before_the_name_and_nothing_else() {
        let never = Globals {
            color: ColorChoice::Never,
        };
        for before in [&["--color", "never"][..], &["--color=never"]] {
            let a = args(&[&["fcap"], before, &["setcap", "-q", "cap_chown=p", "f"]].concat());
            let (p, g, rest) = program(&a).unwrap();
            assert_eq!(
                (p, g.unwrap(), rest),
                (Program::Setcap, never, &a[before.len() + 2..])
            );
        }
        // After a subcommand's name, setcap is a file.
        assert!(program(&args(&["fcap", "read", "setcap"])).is_none());
        assert!(program(&args(&["fcap", "--color", "never", "read", "getcap"])).is_none());
        assert!(program(&args(&["fcap", "--help", "setcap"])).is_none());
        assert!(program(&args(&["fcap", "-V", "getcap"])).is_none());
        // What clap refuses before the name is an error, not a file called setcap.
        for a in [
            &["fcap", "--colour", "never", "setcap"][..],
            &["fcap", "--color", "rainbow", "setcap"],
            &["fcap", "--color", "setcap"],
            &["fcap", "-v", "getcap"],
            &["fcap", "--color=always", "--color", "never", "getcap"],
        ] {
            let (_, g, _) = program(&args(a)).unwrap();
            assert!(g.is_err(), "{a:?}");
        }
    }
}
