//! `fcap set`: Replace files' capabilities with a libcap text expression (setcap-compatible).

use crate::error::Exit;
use std::io::Write;

/// Replace files' capabilities with a libcap text expression (setcap-compatible).
#[derive(Debug, clap::Args)]
pub struct SetArgs {}

/// Run `fcap set`.
pub fn run(_args: &SetArgs, _color: bool, _out: &mut dyn Write) -> anyhow::Result<Exit> {
    anyhow::bail!("'fcap set' is not available in this build yet")
}
