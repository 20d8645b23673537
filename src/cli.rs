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
}
