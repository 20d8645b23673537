//! `fcap grant`: Add capabilities to files, keeping the ones they have.

use crate::error::Exit;
use std::io::Write;

/// Add capabilities to files, keeping the ones they have.
#[derive(Debug, clap::Args)]
pub struct GrantArgs {}

/// Run `fcap grant`.
pub fn run(_args: &GrantArgs, _color: bool, _out: &mut dyn Write) -> anyhow::Result<Exit> {
    anyhow::bail!("'fcap grant' is not available in this build yet")
}
