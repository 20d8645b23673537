//! `fcap list`: List every capability with what it allows.

use crate::error::Exit;
use std::io::Write;

/// List every capability with what it allows.
#[derive(Debug, clap::Args)]
pub struct ListArgs {}

/// Run `fcap list`.
pub fn run(_args: &ListArgs, _color: bool, _out: &mut dyn Write) -> anyhow::Result<Exit> {
    anyhow::bail!("'fcap list' is not available in this build yet")
}
