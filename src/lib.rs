//! fcap: Linux file capabilities, read, written and predicted exactly.
//!
//! Pitfalls this crate is built around (see the README for the long story):
//!
//! * A file has **one** effective flag, not one per capability: `cap_a=ep cap_b=p`
//!   cannot be stored, and every write must keep the flag consistent.
//! * What "all" means, and how canonical text is printed, depends on the running
//!   kernel's capability count (`/proc/sys/kernel/cap_last_cap`), not on a constant.
//! * An empty but valid `security.capability` still makes a file "privileged" at exec
//!   and drops ambient capabilities; removing the attribute is not the same as `=`.
//! * Writes resolve the path once and then act on an `O_NOFOLLOW` file descriptor, so
//!   a swapped symlink cannot redirect a privileged write.
//!
//! Layout: [`caps`] (catalogue and sets), [`text`] (libcap's grammar and printer),
//! [`filecaps`] (the xattr value and codec), [`sys`] (the syscalls), [`output`]
//! (paths and colours), [`error`] (exit codes and the error printer), [`openpath`]
//! (paths opened a directory at a time: any length, links refused), [`cli`] and
//! [`cmd`] (one module per subcommand), [`compat`] (the setcap/getcap drop-in).

pub mod audit;
pub mod caps;
pub mod capspec;
pub mod catalogue;
pub mod cli;
pub mod cmd;
pub mod compat;
pub mod error;
pub mod filecaps;
pub mod fsinfo;
pub mod image;
pub mod manifest;
pub mod openpath;
pub mod output;
pub mod scan;
pub mod sys;
pub mod text;
pub mod tree;
pub mod users;
pub mod verify;
pub mod write;

use cli::{Cli, Command};
use error::Exit;
use std::io::Write;

/// Run a parsed command line, writing normal output to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<Exit> {
    // Decided once: `colored` then styles (or not) everywhere.
    cli.globals.color.apply();
    let code = match cli.command {
        Command::Read(a) => cmd::read::run(&a, out)?,
        Command::Audit(a) => cmd::audit::run(&a, out)?,
        Command::Grant(a) => cmd::grant::run(&a, out)?,
        Command::Revoke(a) => cmd::revoke::run(&a, out)?,
        Command::Set(a) => cmd::set::run(&a, out)?,
        Command::Verify(a) => cmd::verify::run(&a, out)?,
        Command::Run(a) => cmd::run::run(&a, out)?,
        Command::Apply(a) => cmd::apply::run(&a, out)?,
        Command::Check(a) => cmd::check::run(&a, out)?,
        Command::List(a) => cmd::list::run(&a, out)?,
        Command::Explain(a) => cmd::explain::run(&a, out)?,
    };
    out.flush()?;
    Ok(code)
}

/// Everything `main` does, so the binary stays a thin shell: parse, run, print the
/// error if there is one, and map the outcome to an exit code.
pub fn main_with_args() -> std::process::ExitCode {
    use clap::Parser;
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Run as setcap or getcap (by link name or first word): libcap's behaviour.
    if let Some((program, globals, rest)) = compat::program(&args) {
        match globals {
            Ok(g) => g.color.apply(),
            Err(e) => return usage_error(&e, "fcap"),
        };
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        return std::process::ExitCode::from(compat::run(program, rest, &mut out));
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        // --help, --version, and the help shown for a bare `fcap`: clap prints them.
        Err(e)
            if !e.use_stderr()
                || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            e.exit()
        }
        // Usage errors look like every other error: one `fcap: ...` line, exit 2.
        Err(e) => {
            // The subcommand the user meant, for the pointer to its --help.
            use clap::CommandFactory;
            let cmd = Cli::command();
            // (`args`, not `std::env::args()`, which panics on a non-UTF-8 argument.)
            let sub = args
                .iter()
                .skip(1)
                .filter_map(|a| a.to_str())
                .find(|a| cmd.get_subcommands().any(|s| s.get_name() == *a));
            let command = match sub {
                Some(s) => format!("fcap {s}"),
                None => "fcap".to_string(),
            };
            let code = usage_error(&e, &command);
            // fcap run answers as env does: 125 for its own errors.
            if sub == Some("run") {
                return std::process::ExitCode::from(Exit::LaunchError.code());
            }
            return code;
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let code = match run(cli, &mut out) {
        Ok(code) => code,
        Err(e) if error::is_broken_pipe(&e) => Exit::Success,
        Err(e) => {
            error::print(&e);
            Exit::Error
        }
    };
    // A broken pipe while flushing the tail of the output is not an error either.
    let _ = out.flush();
    std::process::ExitCode::from(code.code())
}

/// A usage error looks like every other error: one `fcap: ...` line, exit 2.
fn usage_error(e: &clap::Error, command: &str) -> std::process::ExitCode {
    error::print(&anyhow::anyhow!("{}", error::usage_line(e, command)));
    std::process::ExitCode::from(Exit::Error.code())
}
