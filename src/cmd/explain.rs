//! `fcap explain`: Explain what one capability allows and how dangerous it is.

use crate::error::Exit;
use std::io::Write;

/// Explain what one capability allows and how dangerous it is.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {}

/// Run `fcap explain`.
pub fn run(_args: &ExplainArgs, _color: bool, _out: &mut dyn Write) -> anyhow::Result<Exit> {
    anyhow::bail!("'fcap explain' is not available in this build yet")
}
