//! `fcap check`: Compare files against manifests; exit 1 on any drift.

use crate::error::Exit;
use std::io::Write;

/// Compare files against manifests; exit 1 on any drift.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {}

/// Run `fcap check`.
pub fn run(_args: &CheckArgs, _color: bool, _out: &mut dyn Write) -> anyhow::Result<Exit> {
    anyhow::bail!("'fcap check' is not available in this build yet")
}
