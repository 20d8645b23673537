//! The command-line definition (clap derive). One variant and one args struct per
//! subcommand; each args struct lives next to the code that runs it in `cmd/`.

use crate::cmd;
use crate::output::ColorChoice;
use clap::{Parser, Subcommand};

/// Read, grant, revoke and verify Linux file capabilities.
///
/// fcap replaces setcap/getcap: it prints getcap-compatible lines, adds and removes
/// single capabilities without losing the others, follows symlinks to the real binary,
/// and predicts what a process will really get when it executes a file.
///
/// File capabilities live in the security.capability extended attribute of a program.
/// When the program is executed, the kernel combines them with the caller's own sets:
/// this is how a program run by an ordinary user can, for example, bind port 80
/// without running as root. Reading them needs no privilege; writing them needs
/// CAP_SETFCAP, which in practice means root.
#[derive(Debug, Parser)]
#[command(
    name = "fcap",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_long_help = AFTER_LONG_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,

    #[command(subcommand)]
    pub command: Command,
}

/// The options every subcommand takes, and the only ones allowed before a drop-in's name
/// (`fcap --color never setcap ...`, see [`crate::compat::program`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::Args)]
pub struct Globals {
    /// When to use colours: auto (a terminal, and NO_COLOR unset), always or never.
    // Listed last in every command's help: it is the least interesting option there.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN", display_order = 900, hide_possible_values = true)]
    pub color: ColorChoice,
}

/// The end of `fcap --help`, and the EXIT STATUS, EXAMPLES and SEE ALSO sections of
/// the man page. The man page generator (tests/it/generated.rs) reads its shape: a
/// line ending in ':' starts a section, "  N  text" lines in "Exit status" form the
/// table, two-space lines are prose and four-space lines are commands.
pub const AFTER_LONG_HELP: &str = "\
Exit status:
  0  Success; for a question (verify, check, set --check) the answer is yes.
  1  A negative answer: verify's requirements are unmet, check found drift, or set
     --check found a difference.
  2  An error: bad usage, a missing or unreadable file, a missing privilege, or
     malformed input. An error about one file does not stop the others.

Examples:
  Let node bind port 80 when the unprivileged user node runs it, then prove it
  before deploying (if /usr/bin/node is a symlink, fcap writes the real binary):
    sudo fcap grant cap_net_bind_service /usr/bin/node
    fcap verify /usr/bin/node --user node --require net_bind_service

  A Dockerfile step: copy the static fcap into the final stage and grant after the
  last COPY of the program, because copying a file between stages can drop its
  capabilities:
    COPY --from=build /src/target/x86_64-unknown-linux-musl/release/fcap \\
      /usr/local/bin/fcap
    RUN fcap grant cap_net_bind_service /usr/bin/node \\
     && fcap verify /usr/bin/node --user node --require net_bind_service

  A CI gate: fail when the image's capabilities drift from the reviewed manifest,
  when a new privileged binary appears under /usr, or when node would not get its
  capability:
    fcap read -r /usr > caps.manifest
    fcap check caps.manifest --root /usr
    fcap verify /usr/bin/node --user node --require net_bind_service

  A service that binds through a wrapper (h2o -m master runs a shell script that
  runs the perl that binds): follow the chain, then start it with the capability
  in the ambient set, which survives every link without file capabilities:
    fcap verify /usr/bin/h2o --user www-data --then /usr/share/h2o/start_server --then perl --require net_bind_service
    sudo fcap run --user www-data --ambient net_bind_service -- h2o -m master -c /etc/h2o/h2o.conf

  Look up what a capability allows before granting it:
    fcap explain cap_sys_admin
    fcap list

See also:
  setcap(8), getcap(8), capabilities(7), capsh(1)
";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the capabilities of files (getcap-compatible).
    Read(cmd::read::ReadArgs),
    /// Add capabilities to files, keeping the ones they have.
    Grant(cmd::grant::GrantArgs),
    /// Remove capabilities from files.
    Revoke(cmd::revoke::RevokeArgs),
    /// Replace files' capabilities with a libcap text expression (setcap-compatible).
    Set(cmd::set::SetArgs),
    /// Predict what a process gets when it executes a file, and why.
    Verify(Box<cmd::verify::VerifyArgs>),
    /// Run a program as another user with ambient capabilities, checked first.
    Run(cmd::run::RunArgs),
    /// Make files carry exactly the capabilities a manifest lists.
    Apply(cmd::apply::ApplyArgs),
    /// Compare files against manifests; exit 1 on any drift.
    Check(cmd::check::CheckArgs),
    /// Judge every privileged file (capabilities, setuid, setgid) against rules and a policy.
    Audit(cmd::audit::AuditArgs),
    /// List every capability with what it allows.
    List(cmd::list::ListArgs),
    /// Explain what one capability allows and how dangerous it is.
    Explain(cmd::explain::ExplainArgs),
}
