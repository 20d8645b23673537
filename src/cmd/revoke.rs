//! `fcap revoke`: Remove capabilities from files.

use crate::error::Exit;
use std::io::Write;

/// Remove capabilities from files.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {}

/// Run `fcap revoke`.
pub fn run(_args: &RevokeArgs, _color: bool, _out: &mut dyn Write) -> anyhow::Result<Exit> {
    anyhow::bail!("'fcap revoke' is not available in this build yet")
}
