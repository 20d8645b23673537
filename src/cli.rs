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
#[derive(Debug, Parser)]
#[command(name = "fcap", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// When to use colours: auto (a terminal, and NO_COLOR unset), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

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
    Verify(cmd::verify::VerifyArgs),
    /// Make files carry exactly the capabilities a manifest lists.
    Apply(cmd::apply::ApplyArgs),
    /// Compare files against manifests; exit 1 on any drift.
    Check(cmd::check::CheckArgs),
    /// List every capability with what it allows.
    List(cmd::list::ListArgs),
    /// Explain what one capability allows and how dangerous it is.
    Explain(cmd::explain::ExplainArgs),
}
