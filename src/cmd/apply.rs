//! `fcap apply`: Make files carry exactly the capabilities a manifest lists.

use crate::error::Exit;
use std::io::Write;

/// Make files carry exactly the capabilities a manifest lists.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {}

/// Run `fcap apply`.
pub fn run(_args: &ApplyArgs, _color: bool, _out: &mut dyn Write) -> anyhow::Result<Exit> {
    anyhow::bail!("'fcap apply' is not available in this build yet")
}
